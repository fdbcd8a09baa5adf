/// The `/recommend` request the load tests send: a real-looking user history
/// and 20 candidate games (titles from public product listings), rotated per
/// request so consecutive requests differ; `model` names the model in the body.
enum RecommendPayload {
    static let titles = [
        "Super Mario Odyssey", "The Legend of Zelda: Breath of the Wild", "Mario Kart 8 Deluxe",
        "Splatoon 2", "Pokemon Sun", "Donkey Kong Country: Tropical Freeze", "Animal Crossing: New Leaf",
        "FIFA 19 - PlayStation 4", "Call of Duty: Black Ops 4", "Red Dead Redemption 2 - PlayStation 4",
        "Grand Theft Auto V - Xbox One", "Minecraft - Xbox 360", "Halo 5: Guardians", "Forza Horizon 4",
        "God of War - PlayStation 4", "Uncharted 4: A Thief's End", "The Last of Us Remastered",
        "Spider-Man - PlayStation 4", "Xbox Wireless Controller", "HDMI Cable 6ft", "PlayStation 4 Slim 1TB Console",
        "Nintendo Switch Pro Controller", "Turtle Beach Ear Force Recon 50 Gaming Headset", "Dark Souls III",
        "Bloodborne", "Persona 5 - PlayStation 4", "Final Fantasy XV", "Kingdom Hearts III", "Overwatch - Origins Edition",
        "Fallout 4 - PC", "The Elder Scrolls V: Skyrim", "Diablo III: Eternal Collection", "StarCraft II",
    ]

    static func body(variant: Int, model: String? = nil) -> String {
        func title(_ i: Int) -> String { titles[(variant + i) % titles.count] }
        let history = (0..<5).map { "\"\(title($0))\"" }.joined(separator: ", ")
        let candidates = (5..<25).map { "{\"id\": \"c\($0)\", \"title\": \"\(title($0))\"}" }.joined(separator: ", ")
        let modelField = model.map { "\"model\": \"\($0)\", " } ?? ""
        return "{\(modelField)\"history\": [\(history)], \"candidates\": [\(candidates)], \"top_n\": 5}"
    }

    static func request(variant: Int, host: String = "127.0.0.1") -> [UInt8] {
        RequestKind.recommend().request(variant: variant, host: host)
    }
}
