// swift-tools-version:6.0
import PackageDescription

// Hot kernels are built for AVX2 + FMA ("haswell"): fast on any modern x86-64
// server, unlike "native", which would tie the binaries to the build machine.
// Other architectures get the compiler's defaults.
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let cpuFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "gpt-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GPT", targets: ["GPT"]),
        .executable(name: "generate", targets: ["generate"]),
        .executable(name: "gpt-bench", targets: ["gpt-bench"]),
        .executable(name: "gpt-convert", targets: ["gpt-convert"]),
        .executable(name: "gpt-random-model", targets: ["gpt-random-model"]),
        .executable(name: "gpt-score", targets: ["gpt-score"]),
        .executable(name: "gpt-server", targets: ["gpt-server"]),
        .executable(name: "gpt-train", targets: ["gpt-train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // A C target rather than a system library: variadic MHD calls need C wrappers.
        .target(
            name: "CMicroHTTPD",
            linkerSettings: [.linkedLibrary("microhttpd")]
        ),
        .target(
            name: "JSON"
        ),
        // The decode products and the prefill gemm for every weight type, AVX2 or
        // portable C, chosen at run time (C, for target attributes and intrinsics).
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        // Model file readers and writers: no BLAS, so each parser can be fuzzed alone.
        .target(
            name: "ModelFiles",
            dependencies: ["JSON"]
        ),
        .target(
            name: "GPT",
            dependencies: ["CBLAS", "CKernels", "JSON", "ModelFiles"],
            swiftSettings: cpuFlags
        ),
        .target(
            name: "Training",
            dependencies: ["GPT", "CBLAS", "JSON"],
            swiftSettings: cpuFlags
        ),
        .target(
            name: "HTTP",
            dependencies: ["CMicroHTTPD", "JSON"]
        ),
        .target(
            name: "InferenceServer",
            dependencies: ["GPT", "HTTP", "JSON", .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics"),
                           .product(name: "Prometheus", package: "swift-prometheus")],
            resources: [.embedInCode("Resources/index.html")]
        ),
        .executableTarget(
            name: "generate",
            dependencies: ["GPT", "JSON", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gpt-server",
            dependencies: ["GPT", "HTTP", "InferenceServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "gpt-train",
            dependencies: ["GPT", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gpt-score",
            dependencies: ["GPT", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gpt-bench",
            dependencies: ["GPT", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gpt-convert",
            dependencies: ["GPT", "ModelFiles", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gpt-random-model",
            dependencies: ["GPT", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "GPTTests",
            dependencies: ["GPT"],
            exclude: ["Fixtures"]
        ),
        // Model files written by the gguf and safetensors Python packages, crafted files, quantization accuracy.
        .testTarget(
            name: "ModelFilesTests",
            dependencies: ["GPT", "ModelFiles"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["GPT", "Training", "CBLAS"]
        ),
        .testTarget(
            name: "TrainCLITests",
            dependencies: ["gpt-train", "GPT"]
        ),
        // A raw-socket HTTP client, to see chunk framing and to hang up mid-stream.
        .target(
            name: "HTTPTestSupport",
            path: "Tests/HTTPTestSupport"
        ),
        .testTarget(
            name: "HTTPTests",
            dependencies: ["HTTP", "HTTPTestSupport"]
        ),
        // Starts gpt-server processes and talks to them over loopback.
        .testTarget(
            name: "ServerTests",
            dependencies: ["GPT", "HTTPTestSupport", "gpt-server"]
        ),
        .testTarget(
            name: "InferenceServerTests",
            dependencies: ["InferenceServer", "GPT", "HTTP", "JSON", .product(name: "Logging", package: "swift-log")]
        ),
        // Runs the built executables; depending on them makes `swift test` build them.
        .testTarget(
            name: "CLITests",
            dependencies: ["generate", "gpt-bench", "gpt-convert", "gpt-random-model", "gpt-score", "gpt-server"]
        ),
    ]
)
