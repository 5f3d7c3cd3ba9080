# One helper registers every test with ctest, with a timeout and labels, as nng's nng_test()
# does. Unit tests are cmocka programs; integration tests are cmocka programs that start real
# processes through tests/support.
#
#   bsl_test(NAME <name> SOURCES <files...> [LIBS <libs...>] [TIMEOUT <s>] [LABELS <labels...>])
function(bsl_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  target_compile_options(${T_NAME} PRIVATE ${BSL_WARNINGS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    ENVIRONMENT "BSL_BUILD_DIR=${CMAKE_BINARY_DIR};BSL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
