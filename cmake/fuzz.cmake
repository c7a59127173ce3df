# Fuzz targets: libFuzzer programs built with clang whatever compiler the preset uses,
# each run by ctest as test fuzz/<name> for a short fixed number of inputs (label fuzz).
# Included from CMakeLists.txt; registers nothing, with a note, where clang cannot
# link a libFuzzer program (scripts/deps installs clang and libfuzzer-14-dev).
#
#   weft_add_fuzzer(<name> SOURCES <file>... [LIBS <link argument>...] CORPUS <dir>
#                   [RUNS <n>])
#
# builds tests/fuzz/<name>.c and SOURCES (paths from the repository root, which is
# on the include path with api/) with -fsanitize=fuzzer,address,undefined into
# build/<preset>/tests/<name>, and runs it from the seed corpus CORPUS
# (tests/fuzz/run.sh: RUNS inputs, else WEFT_FUZZ_RUNS, a fixed seed, nothing written to the
# source tree). CONTRIBUTING.md says how to run one for longer.
if(NOT WEFT_BUILD_TESTS)
    return()
endif()

find_program(WEFT_FUZZ_CC NAMES clang clang-14 DOC "clang with libFuzzer, for tests/fuzz")
set(WEFT_FUZZ_RUNS 50000 CACHE STRING "inputs each fuzz/<name> test runs")
set(WEFT_FUZZ_FLAGS -g -O1 -std=gnu11 -Wall -Wextra -Wpedantic
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

# Whether clang links a libFuzzer program: asked once, kept in the cache.
if(WEFT_FUZZ_CC AND NOT DEFINED CACHE{WEFT_FUZZ_WORKS})
    set(probe "${PROJECT_BINARY_DIR}/CMakeFiles/fuzz_probe")
    file(WRITE "${probe}.c" "#include <stddef.h>\n#include <stdint.h>\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; return (int)n * 0; }\n")
    execute_process(COMMAND "${WEFT_FUZZ_CC}" ${WEFT_FUZZ_FLAGS} "${probe}.c" -o "${probe}"
        RESULT_VARIABLE probe_result OUTPUT_QUIET ERROR_QUIET)
    if(probe_result EQUAL 0)
        set(WEFT_FUZZ_WORKS ON CACHE INTERNAL "clang links libFuzzer programs")
    else()
        set(WEFT_FUZZ_WORKS OFF CACHE INTERNAL "clang links libFuzzer programs")
    endif()
endif()
if(NOT WEFT_FUZZ_WORKS)
    message(STATUS "No clang with libFuzzer: the fuzz tests are not registered "
        "(bash scripts/deps installs clang and libfuzzer-14-dev)")
    return()
endif()

function(weft_add_fuzzer name)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "CORPUS;RUNS" "SOURCES;LIBS")
    if(NOT arg_RUNS)
        set(arg_RUNS ${WEFT_FUZZ_RUNS})
    endif()
    set(bin "${PROJECT_BINARY_DIR}/tests/${name}")
    set(sources "${PROJECT_SOURCE_DIR}/tests/fuzz/${name}.c")
    foreach(src ${arg_SOURCES})
        list(APPEND sources "${PROJECT_SOURCE_DIR}/${src}")
    endforeach()
    add_custom_command(OUTPUT "${bin}"
        COMMAND "${WEFT_FUZZ_CC}" ${WEFT_FUZZ_FLAGS} -MMD -MF "${bin}.d"
            -I "${PROJECT_SOURCE_DIR}" -I "${PROJECT_SOURCE_DIR}/api" ${sources} ${arg_LIBS}
            -o "${bin}"
        DEPENDS ${sources}
        DEPFILE "${bin}.d"
        COMMENT "Building fuzz target ${name} with ${WEFT_FUZZ_CC}"
        VERBATIM)
    add_custom_target(${name} ALL DEPENDS "${bin}")
    string(REGEX REPLACE "^fuzz_" "" test "${name}")
    add_test(NAME fuzz/${test}
        COMMAND sh "${PROJECT_SOURCE_DIR}/tests/fuzz/run.sh" "${bin}"
            "${PROJECT_BINARY_DIR}/tests/${name}.corpus" "${PROJECT_SOURCE_DIR}/${arg_CORPUS}"
            ${arg_RUNS})
    set_tests_properties(fuzz/${test} PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()

# The HTTP example's request parser, examples/http_parse.h: a header, no weft.
weft_add_fuzzer(fuzz_http_parse CORPUS tests/fuzz/corpus/http)

# The public API's argument checking: the whole library built with clang, and each
# input a weft_run (about 2,000 a second), so fewer inputs than the parser's.
set(weft_fuzz_library_sources ${WEFT_SOURCES})
list(TRANSFORM weft_fuzz_library_sources REPLACE "^${PROJECT_SOURCE_DIR}/" "")
weft_add_fuzzer(fuzz_api_args
    SOURCES ${weft_fuzz_library_sources}
    LIBS ${WEFT_FCONTEXT_OBJECTS} -lck ${WEFT_UNWIND_LDFLAGS} ${WEFT_DW_LDFLAGS} -pthread -lm
    CORPUS tests/fuzz/corpus/api_args
    RUNS 10000)
