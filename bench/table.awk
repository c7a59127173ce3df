# The table of bench/run: one row per (bench, workers, metric) of the JSON lines it
# reads: weft's figure, the floor, weft / the best peer (for requests_per_s higher is
# better, else lower), and every other figure (peers, and weft-st at one worker).
# Usage: awk [-v summary=1] -f bench/table.awk RESULTS.jsonl

function field(name,    r) {
    if (match($0, "\"" name "\":\"[^\"]*\"")) { r = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", r); sub(/"$/, "", r); return r }
    if (match($0, "\"" name "\":[^,}]*")) { r = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", r); return r }
    return ""
}
{
    key = field("bench") SUBSEP field("workers") SUBSEP field("metric")
    impl = field("impl"); v = field("value") + 0
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    val[key, impl] = v
    if (impl != "weft" && impl != "floor")
        peers[key] = peers[key] sprintf(" %s=%g", impl, v)
    if (impl !~ /^weft/ && impl != "floor") {
        if (!((key) in best) || (field("metric") == "requests_per_s" ? v > best[key] : v < best[key])) {
            best[key] = v; bestname[key] = impl
        }
    }
}
END {
    if (summary) printf "%-9s %2s %-20s %12s\n", "bench", "w", "metric", "weft"
    else printf "%-9s %2s %-20s %10s %8s  %-14s %s\n", "bench", "w", "metric", "weft", "floor", "weft/best", "peers"
    for (i = 1; i <= n; i++) {
        split(order[i], k, SUBSEP)
        w = ((order[i], "weft") in val) ? sprintf("%.4g", val[order[i], "weft"]) : "-"
        if (summary) {
            if (w != "-") printf "%-9s %2s %-20s %12s\n", k[1], k[2], k[3], w  # weft's rows only
            continue
        }
        f = ((order[i], "floor") in val) ? sprintf("%.3g", val[order[i], "floor"]) : ""
        r = ""
        if ((order[i] in best) && ((order[i], "weft") in val) && best[order[i]] > 0)
            r = sprintf("%.2f (%s)", val[order[i], "weft"] / best[order[i]], bestname[order[i]])
        printf "%-9s %2s %-20s %10s %8s  %-14s%s\n", k[1], k[2], k[3], w, f, r, peers[order[i]]
    }
}
