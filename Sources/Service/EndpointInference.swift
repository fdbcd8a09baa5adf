import Configuration

/// `instructrec score` without `--endpoint`: the endpoint whose request shape
/// takes the body. Every shape decodes exactly its own fields, so most bodies
/// fit one. A body that fits `/rerank` and the Cohere shapes (`query` and
/// `documents`, as the README's example) is `/rerank`'s: our own shape, and TEI's
/// when it has `texts`. When none fits, or several others do, the answer says
/// which flag to use.
public enum EndpointInference: Equatable, Sendable {
    /// a path without the slash, as --endpoint spells it ("recommend", "v1/rerank")
    case endpoint(String)
    /// why no single endpoint fits, naming --endpoint
    case unclear(String)

    public static func infer(body: [UInt8]) -> EndpointInference {
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch {
            return .unclear("the request is not JSON (at byte \(error.offset): \(error.message))")
        }
        let limits = RequestLimits(maxCandidates: .max, maxTextCharacters: .max)
        var fits: [String] = []
        var failures: [String] = []
        for path in ShapeRegistry.paths {
            guard let shape = ShapeRegistry.select(ShapeRegistry.shapes(at: path), for: json) else { continue }
            let name = String(path.dropFirst())
            do {
                _ = try shape.decode(json, limits)
                fits.append(name)
            } catch {
                failures.append("\(name): \(ServiceError.from(error).message)")
            }
        }
        let flags = ShapeRegistry.paths.map { "--endpoint \($0.dropFirst())" }.joined(separator: ", ")
        switch fits.count {
        case 1: return .endpoint(fits[0])
        case _ where fits.contains("rerank"): return .endpoint("rerank")
        // /v2/rerank also takes v1's fields (Cohere's earlier v2 API); a body both take is v1's.
        case _ where Set(fits) == ["v1/rerank", "v2/rerank"]: return .endpoint("v1/rerank")
        case 0: return .unclear("no endpoint takes this body (\(failures.joined(separator: "; "))); name the one you mean with one of \(flags)")
        default: return .unclear("this body fits \(fits.map { "/" + $0 }.joined(separator: " and ")); choose with \(fits.map { "--endpoint \($0)" }.joined(separator: " or "))")
        }
    }
}
