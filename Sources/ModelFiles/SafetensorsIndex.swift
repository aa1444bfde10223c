import JSON

/// `model.safetensors.index.json`, which Hugging Face writes beside a model
/// saved in several safetensors files (shards): `{"metadata": {...},
/// "weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}`.
public struct SafetensorsIndex {
    /// The index's file name in a Hugging Face folder.
    public static let fileName = "model.safetensors.index.json"

    /// The shard that holds each tensor, by the tensor's name as stored.
    public let shardOf: [String: String]
    /// Every shard the map names, each once, sorted (model-00001-of-... first).
    public let shards: [String]

    public init(bytes: [UInt8], file: String) throws {
        let object = try JSONObject.parse(bytes, file: file, expected: "an object with a weight_map")
        guard case .object(let map)? = object["weight_map"] else {
            throw ModelFileError(file, "weight_map is \(object["weight_map"].map(\.kindName) ?? "missing"); "
                + "expected an object from tensor names to shard file names")
        }
        var shardOf: [String: String] = [:]
        var shards = Set<String>()
        for (name, value) in map.members {
            guard case .string(let shard) = value else {
                throw ModelFileError(file, "weight_map gives tensor \(name) the \(value.kindName) \(value); expected a shard file name")
            }
            // Shards are files of this folder: a path could read any file on the machine.
            guard !shard.isEmpty, shard != ".", shard != "..", !shard.contains("/") else {
                throw ModelFileError(file, "weight_map puts tensor \(name) in \(shard.debugDescription); a shard must be a file name "
                    + "in the index's folder (no \"/\", \"..\" or absolute paths)")
            }
            guard shardOf.updateValue(shard, forKey: name) == nil else {
                throw ModelFileError(file, "weight_map names tensor \(name) twice")
            }
            shards.insert(shard)
        }
        guard !shards.isEmpty else { throw ModelFileError(file, "weight_map is empty; it must name every tensor's shard") }
        self.shardOf = shardOf
        self.shards = shards.sorted()
    }
}
