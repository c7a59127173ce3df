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
