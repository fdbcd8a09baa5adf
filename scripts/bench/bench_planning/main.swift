// Planning time (InstructionBuilder.plan: render, tokenize and fit the instruction)
// of one /recommend-sized request: 100 candidates and a 200-item history, with the
// service's default instruction options (max_input_tokens 512, max_history_items 200,
// max_history_title_tokens 32, max_target_tokens 64), or another history cap (the shipped
// default model's instructrec.json says 10). Built by scripts/bench/bench_planning.sh against the
// InstructRec sources of any commit: it uses only API that has not changed.
// Prints one line: the median of `repeats` plans in microseconds, and the number of groups.
import Dispatch
import Foundation
import InstructRec
import Tokenizer

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: planning-bench <tokenizer.json> <templates.json> [repeats] [max-history-items]\n".utf8))
    exit(2)
}
let tokenizer = try Tokenizer(tokenizerJSON: URL(fileURLWithPath: arguments[1]))
let templates = try TemplateSet(contentsOf: URL(fileURLWithPath: arguments[2]))
let repeats = arguments.count > 3 ? Int(arguments[3]) ?? 200 : 200
let historyCap = arguments.count > 4 ? Int(arguments[4]) ?? 200 : 200

var options = InstructionOptions()
options.maxInputTokens = 512
options.maxHistoryItems = historyCap
options.maxHistoryTitleTokens = 32
options.maxTargetTokens = 64
let builder = InstructionBuilder(templates: templates, tokenizer: tokenizer, options: options)

let franchises = ["Super Mario", "Zelda", "Metroid", "Halo", "Gears of War", "Forza Horizon", "Final Fantasy", "Kingdom Hearts",
                  "Resident Evil", "Dark Souls", "Call of Duty", "Battlefield", "FIFA", "Madden NFL", "Pokemon", "Animal Crossing"]
let editions = ["Deluxe Edition", "for Nintendo Switch", "- PlayStation 4", "Game of the Year", "Xbox One", "Remastered"]
let history = (0..<200).map { i in
    Item(id: "h\(i)", title: "\(franchises[i % franchises.count]) \(i / 16 + 1) \(editions[i % editions.count])")
}
let candidates = (0..<100).map { i in
    Item(id: "c\(i)", title: "\(franchises[(i * 7) % franchises.count]) \(editions[(i * 5) % editions.count]) Bundle \(i)")
}
let context = UserContext(history: history)

var groups = 0
for _ in 0..<10 { groups = try builder.plan(context: context, candidates: candidates, template: nil).groups.count }
var times: [Double] = []
for _ in 0..<repeats {
    let start = DispatchTime.now().uptimeNanoseconds
    let plan = try builder.plan(context: context, candidates: candidates, template: nil)
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
    precondition(plan.groups.count == groups)
}
times.sort()
print(String(format: "%.1f %d", times[times.count / 2], groups))
