{
  "targets": [
    {
      "target_name": "nabla",
      "sources": [
        "native/nabla.cc",
        "native/pool.cc",
        "native/gemm.cc",
        "native/elementwise.cc",
        "native/vmath.cc",
        "native/reduce.cc",
        "native/indexing.cc",
        "native/attention.cc",
        "native/fused.cc"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-std=gnu++17"],
      "cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-Wall"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15",
        "OTHER_CFLAGS": ["-O3", "-fno-math-errno", "-fopenmp-simd"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "Optimization": 2, "AdditionalOptions": ["/std:c++17"] }
      }
    }
  ]
}
