/*
 * How the calls that answer NULL report why: errno, as the header promises,
 * and a copy in the calling task that weft_errno() reads. errno alone is not
 * enough: a task may resume on another thread after an await, and code
 * compiled with optimisation may keep using the first thread's errno
 * address, reading a different thread's errno.
 */
#ifndef API_FAIL_H
#define API_FAIL_H

/* Set errno (and the running task's copy) to code; returns NULL. */
void *fail_errno(int code) __attribute__((cold));

#endif /* API_FAIL_H */
