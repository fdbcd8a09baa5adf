import ArgumentParser
import Foundation

/// The models a test serves: the default model (an InstructRec checkpoint, /recommend traffic) and,
/// unless `--second-model none`, a second one by name (a query + documents model such as MonoT5,
/// /v2/rerank traffic with `"model": NAME`). Shared by lb-test, soak and fairness.
struct ModelOptions: ParsableArguments {
    @Option(help: "The default model's directory (served as \"default\"; its traffic is /recommend).")
    var model = "models/default"
    @Option(help: ArgumentHelp(
        "A second model served beside the default, NAME=DIR (its traffic is /v2/rerank with \"model\": NAME); 'none' serves the default model alone.",
        valueName: "name=dir"))
    var secondModel = "mono=Tests/ServiceTests/Fixtures/monot5-tiny"
    @Option(help: "Share of the load sent to the second model (0...1).")
    var secondShare = 0.25

    /// The second model, or nil when the default is served alone.
    func second() throws -> ServedModel? {
        let text = secondModel.trimmingCharacters(in: .whitespaces)
        if text.isEmpty || text == "none" { return nil }
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex, text.index(after: equals) != text.endIndex else {
            throw ValidationError("--second-model wants NAME=DIR (or none), got '\(secondModel)'")
        }
        let name = String(text[..<equals])
        guard name != ServedModel.defaultName else {
            throw ValidationError("--second-model's name must differ from '\(ServedModel.defaultName)'")
        }
        return ServedModel(name: name, directory: String(text[text.index(after: equals)...]))
    }

    func validateShare() throws {
        guard (0...1).contains(secondShare) else { throw ValidationError("--second-share must be within 0...1") }
    }
}

/// One model of a `serve` command line: its name and directory.
struct ServedModel {
    static let defaultName = "default"
    var name: String
    var directory: String

    /// `serve`'s model flags. The default model alone is passed bare (`--model DIR`, served as
    /// "default", as before models had names); with a second model both are named, the default first.
    static func serveArguments(defaultDirectory: String, second: ServedModel?) -> [String] {
        guard let second else { return ["--model", defaultDirectory] }
        return ["--model", "\(defaultName)=\(defaultDirectory)", "--model", "\(second.name)=\(second.directory)"]
    }
}

/// What one load request is: its route, the `"model"` its body names (nil: none, the default
/// answers), and the model that must answer it (the `X-Model` header of its response).
struct RequestKind: Sendable {
    enum Shape: Sendable { case recommend, rerankV2 }
    var shape: Shape
    /// The `"model"` field of the body; nil leaves it out.
    var modelField: String?
    /// The model that must answer (X-Model).
    var expectedModel: String

    var route: String { shape == .recommend ? "/recommend" : "/v2/rerank" }

    static func recommend(model: String? = nil) -> RequestKind {
        RequestKind(shape: .recommend, modelField: model, expectedModel: model ?? ServedModel.defaultName)
    }

    static func rerank(model: String) -> RequestKind {
        RequestKind(shape: .rerankV2, modelField: model, expectedModel: model)
    }

    func body(variant: Int) -> String {
        switch shape {
        case .recommend: return RecommendPayload.body(variant: variant, model: modelField)
        case .rerankV2: return RerankPayload.body(variant: variant, model: modelField)
        }
    }

    func request(variant: Int, host: String = "127.0.0.1", authorization: String? = nil) -> [UInt8] {
        let body = Array(body(variant: variant).utf8)
        var head = "POST \(route) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        if let authorization { head += "Authorization: Bearer \(authorization)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }
}

/// Which kind each request of a load is, spread evenly by its sequence number.
struct TrafficMix: Sendable {
    var defaultKinds: [RequestKind]
    var secondKind: RequestKind?
    var secondShare: Double
    /// A missing X-Model header is a failure (the binary serves models by name); a present one must
    /// always match.
    var requiresModelHeader: Bool

    /// The default model's load alone (one model served): /recommend without a model field.
    static let defaultOnly = TrafficMix(defaultKinds: [.recommend()], secondKind: nil, secondShare: 0, requiresModelHeader: false)

    /// One kind only (fairness: a flood or a probe of one model).
    static func only(_ kind: RequestKind, requiresModelHeader: Bool = true) -> TrafficMix {
        TrafficMix(defaultKinds: [kind], secondKind: nil, secondShare: 0, requiresModelHeader: requiresModelHeader)
    }

    /// The load of lb-test and soak. With a second model: `share` of the requests go to it on
    /// /v2/rerank; the default model's /recommend requests alternate between no model field and
    /// `"model": "default"`, so both ways of naming the default are under load.
    static func of(second: ServedModel?, share: Double) -> TrafficMix {
        guard let second else { return defaultOnly }
        return TrafficMix(defaultKinds: [.recommend(), .recommend(model: ServedModel.defaultName)],
                          secondKind: .rerank(model: second.name), secondShare: share, requiresModelHeader: true)
    }

    /// The models this load asks for, default first.
    var modelNames: [String] {
        var names: [String] = []
        for kind in defaultKinds + [secondKind].compactMap({ $0 }) where !names.contains(kind.expectedModel) {
            names.append(kind.expectedModel)
        }
        return names
    }

    /// The kind of the `sequence`th request (1, 2, ...): the second model's share is spread evenly
    /// (the request whose sequence number crosses the next multiple of 1/share).
    func kind(for sequence: Int) -> RequestKind {
        if let secondKind, secondShare > 0,
           (Double(sequence) * secondShare).rounded(.down) != (Double(sequence - 1) * secondShare).rounded(.down) {
            return secondKind
        }
        return defaultKinds[(sequence / 2) % defaultKinds.count]
    }
}

/// The `/v2/rerank` request of the second model's load: a shopper's query and ten product titles
/// (RecommendPayload's), rotated per request.
enum RerankPayload {
    static let queries = [
        "a castle game", "racing games for the whole family", "a wireless controller for my console",
        "open world role playing game", "a shooter to play online with friends", "a cable to connect my console to the tv",
        "a football game", "a headset for online games",
    ]

    static func body(variant: Int, model: String?) -> String {
        let titles = RecommendPayload.titles
        let documents = (0..<10).map { "\"\(titles[(variant * 3 + $0) % titles.count])\"" }.joined(separator: ", ")
        let modelField = model.map { "\"model\": \"\($0)\", " } ?? ""
        return "{\(modelField)\"query\": \"\(queries[variant % queries.count])\", \"documents\": [\(documents)], \"top_n\": 3}"
    }
}
