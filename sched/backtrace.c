/*
 * Walking with libunwind's local unwinder from registers we supply, naming
 * with libdw's Dwfl over this process (see backtrace.h).
 *
 * A suspended fiber: boost's jump_fcontext (x86-64 System V) pushes, below
 * the return address into the switching function, a 0x38-byte frame that
 * the saved fcontext_t points at:
 *
 *     ctx + 0x00  mxcsr, x87 control word
 *     ctx + 0x08  r12   + 0x10 r13   + 0x18 r14   + 0x20 r15
 *     ctx + 0x28  rbx   + 0x30 rbp
 *     ctx + 0x38  return address (where the fiber resumes)
 *
 * so the fiber's registers at its switch are those callee-saved ones, rip
 * = the return address and rsp = ctx + 0x40 (after the return). Those are
 * all the registers a walk needs: the caller-saved ones are dead across the
 * call. Other architectures save other frames: there backtrace_supported()
 * is false and the dump says so.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sched/backtrace.h"

#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <elfutils/libdwfl.h>
#include <libunwind.h>

#if defined(__x86_64__)
#define FIBER_WALK 1
#endif

bool backtrace_supported(void)
{
#ifdef FIBER_WALK
    return true;
#else
    return false;
#endif
}

/* Collect return addresses from c's frame outwards. */
static void walk(unw_cursor_t *c, struct backtrace *bt)
{
    do {
        unw_word_t ip;
        if (unw_get_reg(c, UNW_REG_IP, &ip) < 0 || ip == 0)
            break;
        bt->ip[bt->n++] = (uintptr_t)ip;
    } while (bt->n < BACKTRACE_MAX && unw_step(c) > 0);
}

void backtrace_of_fiber(fcontext_t ctx, struct backtrace *bt)
{
    bt->n = 0;
    bt->exact_first = false;
#ifdef FIBER_WALK
    unw_context_t uc;
    if (!ctx || unw_getcontext(&uc) != 0)
        return;
    const uint64_t *frame = ctx;
    greg_t *r = uc.uc_mcontext.gregs;
    r[REG_R12] = (greg_t)frame[1];
    r[REG_R13] = (greg_t)frame[2];
    r[REG_R14] = (greg_t)frame[3];
    r[REG_R15] = (greg_t)frame[4];
    r[REG_RBX] = (greg_t)frame[5];
    r[REG_RBP] = (greg_t)frame[6];
    r[REG_RIP] = (greg_t)frame[7];
    r[REG_RSP] = (greg_t)((uintptr_t)ctx + 0x40);
    unw_cursor_t c;
    if (unw_init_local(&c, &uc) == 0)
        walk(&c, bt);
#else
    (void)ctx;
#endif
}

void backtrace_here(struct backtrace *bt, unsigned skip)
{
    bt->n = 0;
    bt->exact_first = false;
    unw_context_t uc;
    unw_cursor_t c;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return;
    for (unsigned i = 0; i <= skip; i++) /* and this function's own frame */
        if (unw_step(&c) <= 0)
            return;
    walk(&c, bt);
}

void backtrace_of_signal(void *ucontext, struct backtrace *bt)
{
    bt->n = 0;
    bt->exact_first = true;
    unw_cursor_t c;
    if (unw_init_local2(&c, ucontext, UNW_INIT_SIGNAL_FRAME) == 0)
        walk(&c, bt);
}

/* --- naming ----------------------------------------------------------- */

struct symbolizer {
    Dwfl *dwfl;
};

static char *debuginfo_path;
static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

struct symbolizer *symbolizer_open(void)
{
    struct symbolizer *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->dwfl = dwfl_begin(&proc_callbacks);
    if (!s->dwfl || dwfl_linux_proc_report(s->dwfl, getpid()) != 0 ||
        dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
        if (s->dwfl)
            dwfl_end(s->dwfl);
        free(s);
        return NULL;
    }
    return s;
}

void symbolizer_close(struct symbolizer *s)
{
    if (!s)
        return;
    dwfl_end(s->dwfl);
    free(s);
}

void backtrace_print(const struct backtrace *bt, struct symbolizer *s, FILE *out)
{
    for (unsigned i = 0; i < bt->n; i++) {
        /* A return address is the instruction after the call: look up the
         * call itself, or a call at a function's end names the next one. */
        uintptr_t at = bt->ip[i] - (i == 0 && bt->exact_first ? 0 : 1);
        Dwfl_Module *m = s ? dwfl_addrmodule(s->dwfl, at) : NULL;
        GElf_Off off = 0;
        GElf_Sym sym;
        const char *name =
            m ? dwfl_module_addrinfo(m, at, &off, &sym, NULL, NULL, NULL) : NULL;
        if (!name) {
            fprintf(out, "    #%u 0x%lx\n", i, (unsigned long)bt->ip[i]);
            continue;
        }
        fprintf(out, "    #%u %s+0x%lx", i, name, (unsigned long)off);
        Dwfl_Line *line = dwfl_module_getsrc(m, at);
        int lineno = 0;
        const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
        if (file) {
            const char *slash = strrchr(file, '/');
            fprintf(out, " (%s:%d)", slash ? slash + 1 : file, lineno);
        }
        fputc('\n', out);
    }
}
