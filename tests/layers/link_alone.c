/*
 * Nothing but a program for the linker to build with one layer and those
 * below it, whole (CMakeLists.txt, "the layers"): that it links at all is
 * the check that no lower layer calls an upper one. Run, it says so.
 */
#include <stdio.h>

int main(void)
{
    puts("linked without the layers above");
    return 0;
}
