# concurrencykit as the imported target weft::ck, for weft's own build and for the
# installed package (weftConfig.cmake), whose weft::weft_static links it. Debian's
# libck-dev ships no CMake package, so look for the header and the library directly.
if(NOT TARGET weft::ck)
    find_path(WEFT_CK_INCLUDE_DIR ck_pr.h)
    find_library(WEFT_CK_LIBRARY ck)
    if(WEFT_CK_INCLUDE_DIR AND WEFT_CK_LIBRARY)
        add_library(weft::ck UNKNOWN IMPORTED)
        set_target_properties(weft::ck PROPERTIES
            IMPORTED_LOCATION "${WEFT_CK_LIBRARY}"
            INTERFACE_INCLUDE_DIRECTORIES "${WEFT_CK_INCLUDE_DIR}")
    endif()
endif()

# libunwind (walking fiber stacks) and libdw (naming what it finds, with file:line) as
# weft::unwind and weft::dw: the backtraces of weft_dump, the slow-task warning and the
# deadlock report (sched/backtrace.c). Both come with their pkg-config files.
find_package(PkgConfig QUIET)
foreach(dep unwind dw)
    string(TOUPPER "WEFT_${dep}" prefix)
    if(PkgConfig_FOUND AND NOT TARGET weft::${dep})
        pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL lib${dep})
        if(${prefix}_FOUND)
            add_library(weft::${dep} ALIAS PkgConfig::${prefix})
        endif()
    endif()
endforeach()
