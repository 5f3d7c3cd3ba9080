# Generates C from every .proto under proto/ with protoc-c at build time, plus the schema
# table (bsl_schema_gen) that carries per-method facts protobuf-c drops (idempotency level,
# MethodPolicy option, comments). Nothing generated is committed.

find_program(PROTOC_C protoc-c REQUIRED)

set(BSL_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
set(BSL_WKT_DIR /usr/include CACHE PATH "Where google/protobuf/*.proto live (libprotobuf-dev)")
file(GLOB BSL_PROTOS CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/proto
     ${CMAKE_SOURCE_DIR}/proto/boussole/v1/*.proto)
list(SORT BSL_PROTOS)
set(BSL_WKT_PROTOS google/protobuf/timestamp.proto google/protobuf/descriptor.proto)

set(_gen_srcs)
set(_gen_hdrs)
foreach(p IN LISTS BSL_PROTOS BSL_WKT_PROTOS)
  string(REGEX REPLACE "\\.proto$" "" base ${p})
  list(APPEND _gen_srcs ${BSL_GEN_DIR}/${base}.pb-c.c)
  list(APPEND _gen_hdrs ${BSL_GEN_DIR}/${base}.pb-c.h)
endforeach()
list(TRANSFORM BSL_PROTOS PREPEND ${CMAKE_SOURCE_DIR}/proto/ OUTPUT_VARIABLE _proto_paths)

add_custom_command(
  OUTPUT ${_gen_srcs} ${_gen_hdrs} ${BSL_GEN_DIR}/boussole.pb
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BSL_GEN_DIR}
  COMMAND ${PROTOC_C} -I${CMAKE_SOURCE_DIR}/proto -I${BSL_WKT_DIR} --c_out=${BSL_GEN_DIR}
          ${BSL_PROTOS} ${BSL_WKT_PROTOS}
  COMMAND ${PROTOC_C} -I${CMAKE_SOURCE_DIR}/proto -I${BSL_WKT_DIR}
          --descriptor_set_out=${BSL_GEN_DIR}/boussole.pb --include_imports --include_source_info
          ${BSL_PROTOS}
  DEPENDS ${_proto_paths}
  COMMENT "protoc-c: generating C for ${BSL_PROTOS}"
  VERBATIM)

# Generated code is compiled without our warning flags: it is not ours to fix.
add_library(bsl_proto_c STATIC ${_gen_srcs})
target_include_directories(bsl_proto_c PUBLIC ${BSL_GEN_DIR})
target_link_libraries(bsl_proto_c PUBLIC PkgConfig::PROTOBUFC)
set_target_properties(bsl_proto_c PROPERTIES POSITION_INDEPENDENT_CODE ON C_CLANG_TIDY "")
target_compile_options(bsl_proto_c PRIVATE -w)

# The schema generator reads the descriptor set and writes the method table.
add_executable(bsl_schema_gen ${CMAKE_SOURCE_DIR}/shared/tools/schema_gen.c)
target_link_libraries(bsl_schema_gen PRIVATE bsl_proto_c)
target_compile_options(bsl_schema_gen PRIVATE ${BSL_WARNINGS})

add_custom_command(
  OUTPUT ${BSL_GEN_DIR}/bsl_schema_table.c
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 $<TARGET_FILE:bsl_schema_gen> ${BSL_GEN_DIR}/boussole.pb ${BSL_GEN_DIR}/bsl_schema_table.c
  DEPENDS bsl_schema_gen ${BSL_GEN_DIR}/boussole.pb
  COMMENT "bsl_schema_gen: method table from the descriptor set"
  VERBATIM)

add_library(bsl_proto STATIC ${BSL_GEN_DIR}/bsl_schema_table.c)
target_include_directories(bsl_proto PUBLIC ${CMAKE_SOURCE_DIR}/shared/include)
target_link_libraries(bsl_proto PUBLIC bsl_proto_c)
set_target_properties(bsl_proto PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_compile_options(bsl_proto PRIVATE -w)
