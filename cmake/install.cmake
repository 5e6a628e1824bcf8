# Install rules and the CMake package (issue 17). Three ways to consume the library, one set of
# target names: amqp_rpc::protocol, amqp_rpc::amqp, amqp_rpc::rpc.
#   installed tree:  find_package(amqp_rpc 0.2 CONFIG)   (<prefix>/lib/cmake/amqp_rpc)
#   build tree:      find_package(amqp_rpc 0.2 CONFIG) with amqp_rpc_DIR=<build dir> (export() below)
#   source tree:     add_subdirectory / FetchContent (the ALIAS targets in amqp/ and rpc/)
# and pkg-config: amqp_rpc.pc.
include(CMakePackageConfigHelpers)

set(AMQP_RPC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/amqp_rpc)
set(AMQP_RPC_LIBRARIES amqp_rpc_codec amqp_rpc_protocol amqp_rpc_amqp amqp_rpc_rpc amqp_rpc_fibonacci)

install(TARGETS ${AMQP_RPC_LIBRARIES} EXPORT amqp_rpc_targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Public headers only: amqp/include and rpc/include hold nothing else (sources' private headers
# live under */src; tests/consumer checks that the installed headers compile on their own).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/amqp/codec/include/ ${PROJECT_SOURCE_DIR}/amqp/protocol/include/
                  ${PROJECT_SOURCE_DIR}/amqp/transport/include/ ${PROJECT_SOURCE_DIR}/rpc/include/
                  ${PROJECT_SOURCE_DIR}/services/fibonacci/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")

install(EXPORT amqp_rpc_targets NAMESPACE amqp_rpc:: FILE amqp_rpcTargets.cmake DESTINATION ${AMQP_RPC_CMAKE_DIR})
export(EXPORT amqp_rpc_targets NAMESPACE amqp_rpc:: FILE ${PROJECT_BINARY_DIR}/amqp_rpcTargets.cmake)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/amqp_rpcConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/amqp_rpcConfig.cmake
                              INSTALL_DESTINATION ${AMQP_RPC_CMAKE_DIR})
# 0.x: a minor version may break the API, so 0.2 accepts 0.2.y only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/amqp_rpcConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/amqp_rpcConfig.cmake ${PROJECT_BINARY_DIR}/amqp_rpcConfigVersion.cmake
        DESTINATION ${AMQP_RPC_CMAKE_DIR})

# pkg-config: one module for the whole stack (fibonacci, rpc, amqp, protocol, codec). Boost ships no .pc
# files, so its libraries are named directly; OpenSSL's module is required.
# The prefix is found from the .pc file's own place (${pcfiledir}), so the file stays right under
# `cmake --install --prefix` and when the tree is moved.
set(AMQP_RPC_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE ${AMQP_RPC_PC_DIR})
  set(AMQP_RPC_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
else()
  file(RELATIVE_PATH _up /x/${AMQP_RPC_PC_DIR} /x)
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(AMQP_RPC_PC_PREFIX "\${pcfiledir}/${_up}")
endif()
foreach(_dir INCLUDEDIR LIBDIR)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_${_dir}})
    set(AMQP_RPC_PC_${_dir} ${CMAKE_INSTALL_${_dir}})
  else()
    set(AMQP_RPC_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/amqp_rpc.pc.in ${PROJECT_BINARY_DIR}/amqp_rpc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/amqp_rpc.pc DESTINATION ${AMQP_RPC_PC_DIR})
