# Third-party dependencies, all from Debian packages (nothing vendored).
# A missing one stops CMake with the package to install.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

# muster_require(VAR MODULE DEBIAN_PACKAGE): pkg-config MODULE into an
# imported target muster::VAR, or a fatal error naming the package.
function(muster_require var module package)
  pkg_check_modules(${var} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "${module} not found: apt-get install ${package}")
  endif()
  add_library(muster::${var} ALIAS PkgConfig::${var})
endfunction()

muster_require(UV    libuv          libuv1-dev)
muster_require(CJSON libcjson       libcjson-dev)
muster_require(MONGOC libmongoc-1.0 libmongoc-dev)
muster_require(BSON  libbson-1.0    libbson-dev)
muster_require(CRYPTO libcrypto     libssl-dev)
muster_require(SSL   libssl        libssl-dev)
muster_require(HIREDIS hiredis      libhiredis-dev)
muster_require(NGHTTP2 libnghttp2   libnghttp2-dev)
muster_require(ZLIB  zlib           zlib1g-dev)

# llhttp: Debian's node-llhttp ships the C sources; we compile them here.
set(LLHTTP_SRC_DIR /usr/share/llhttp CACHE PATH "llhttp C sources")
set(LLHTTP_INC_DIR /usr/share/include/llhttp CACHE PATH "llhttp header")
if(NOT EXISTS ${LLHTTP_SRC_DIR}/llhttp.c OR NOT EXISTS ${LLHTTP_INC_DIR}/llhttp.h)
  message(FATAL_ERROR "llhttp sources not found in ${LLHTTP_SRC_DIR}: apt-get install node-llhttp")
endif()
add_library(llhttp STATIC ${LLHTTP_SRC_DIR}/llhttp.c ${LLHTTP_SRC_DIR}/api.c ${LLHTTP_SRC_DIR}/http.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INC_DIR})
target_compile_options(llhttp PRIVATE -w)   # generated code; not ours to warn about
