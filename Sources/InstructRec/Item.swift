/// A catalogue item as the service sees it: an id and the title the model reads.
public struct Item: Sendable, Equatable {
    public var id: String
    public var title: String
    /// the client gave no id, so `id` is only the item's position in its list (`exclude_history`
    /// then matches it by title, see `HistoryExclusion`)
    public var idIsPosition: Bool

    public init(id: String, title: String, idIsPosition: Bool = false) {
        self.id = id
        self.title = title
        self.idIsPosition = idIsPosition
    }
}

/// The kind of intention in an instruction (InstructRec's I1 / I2).
public enum IntentKind: String, Sendable, CaseIterable {
    case vague
    case specific
}

/// Everything about the user that goes into an instruction.
public struct UserContext: Sendable, Equatable {
    /// items the user interacted with, oldest first (P1)
    public var history: [Item]
    /// the user's own words about their taste (P2)
    public var preference: String?
    /// what the user is looking for now (I1 / I2)
    public var intention: String?
    public var intentKind: IntentKind

    public init(history: [Item] = [], preference: String? = nil, intention: String? = nil, intentKind: IntentKind = .specific) {
        self.history = history
        self.preference = preference
        self.intention = intention
        self.intentKind = intentKind
    }
}
