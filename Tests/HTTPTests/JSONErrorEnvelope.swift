import Foundation
import HTTP

extension ErrorRenderer {
    /// The tests' application error body, {"error": {"code": ..., "message": ...}}:
    /// the HTTP layer itself no longer knows any envelope.
    static let jsonEnvelope = ErrorRenderer { error in
        let object = ["error": ["code": error.code, "message": error.message]]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return .json(Array(data), status: error.status)
    }
}
