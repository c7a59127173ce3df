# The soak test, tests/soak/soak.py: examples/echo_server and examples/http_hello at
# 2 workers under good and hostile clients for WEFT_SOAK_SECONDS (10 minutes by
# default), checking every answer, and that descriptors and RSS come back after the
# load. Too long for CI and for scripts/test, so it is registered only when asked
# for, with -DWEFT_SOAK=ON, as test soak/servers with label soak; and only in a
# build without a sanitizer or valgrind, whose own memory would be what RSS measures.
# Included from CMakeLists.txt; CONTRIBUTING.md says how to run it.
option(WEFT_SOAK "Register the soak test (label soak, WEFT_SOAK_SECONDS long)" OFF)
set(WEFT_SOAK_SECONDS 600 CACHE STRING "How long the soak test loads the servers, in seconds")
if(NOT WEFT_SOAK)
    return()
endif()
if(NOT WEFT_BUILD_TESTS OR NOT WEFT_BUILD_EXAMPLES OR WEFT_SANITIZE OR WEFT_TEST_LAUNCHER)
    message(STATUS "WEFT_SOAK is on, but the soak test needs the tests and examples in a "
        "build without sanitizers or a launcher (Debug or Release): not registered")
    return()
endif()
find_program(WEFT_PYTHON3 python3)
if(NOT WEFT_PYTHON3)
    message(STATUS "WEFT_SOAK is on, but python3 is missing: the soak test is not registered")
    return()
endif()

add_test(NAME soak/servers
    COMMAND "${WEFT_PYTHON3}" "${PROJECT_SOURCE_DIR}/tests/soak/soak.py"
        --echo $<TARGET_FILE:ex_echo_server> --http $<TARGET_FILE:ex_http_hello>
        --seconds ${WEFT_SOAK_SECONDS})
# The load, a warm-up of a tenth of it, the drains and the stops, with room to spare.
math(EXPR soak_timeout "${WEFT_SOAK_SECONDS} * 12 / 10 + 600")
set_tests_properties(soak/servers PROPERTIES LABELS soak TIMEOUT ${soak_timeout} RUN_SERIAL TRUE)
