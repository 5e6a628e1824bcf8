# amqp_rpc_library(NAME <name> LINKS <targets>...): the library of one layer, from the folder that
# calls it: its sources are src/*.cpp, its public headers include/ (installed as they are), its
# target amqp_rpc_<name> with the alias and export name amqp_rpc::<name>. Only what LINKS names
# (the layers below) is visible to it, so an upward include does not compile.
function(amqp_rpc_library)
  cmake_parse_arguments(L "" "NAME" "LINKS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  add_library(amqp_rpc_${L_NAME} ${sources})
  add_library(amqp_rpc::${L_NAME} ALIAS amqp_rpc_${L_NAME})
  set_target_properties(amqp_rpc_${L_NAME} PROPERTIES EXPORT_NAME ${L_NAME})
  target_compile_features(amqp_rpc_${L_NAME} PUBLIC cxx_std_20)
  target_include_directories(amqp_rpc_${L_NAME} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(amqp_rpc_${L_NAME} PUBLIC ${L_LINKS})
  target_compile_options(amqp_rpc_${L_NAME} PRIVATE ${AMQP_RPC_WARNINGS})
endfunction()
