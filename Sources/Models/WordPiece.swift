import Foundation

/// The uncased BERT tokenizer of all-MiniLM-L6-v2 (Hugging Face's BertNormalizer with
/// clean_text, handle_chinese_chars, lowercase and accent stripping; BertPreTokenizer;
/// WordPiece with "##" continuations and at most 100 characters a word), then [CLS] ... [SEP]
/// truncated to `maxLength` tokens. Checked against the `tokenizers` library's output.
public struct WordPieceTokenizer: Sendable {
    public let vocab: [String: Int]
    public let maxLength: Int
    public let cls: Int, sep: Int, unk: Int
    let maxCharsPerWord = 100

    public init(vocabPath: String, maxLength: Int = 128) throws {
        guard let text = try? String(contentsOfFile: vocabPath, encoding: .utf8) else {
            throw TokenizerError.vocabulary("\(vocabPath): cannot read the vocabulary (missing or not UTF-8)")
        }
        var vocab: [String: Int] = [:]
        var i = 0
        text.enumerateLines { line, _ in vocab[line] = i; i += 1 }
        try self.init(vocab: vocab, maxLength: maxLength, source: vocabPath)
    }

    public init(vocab: [String: Int], maxLength: Int = 128, source: String = "vocabulary") throws {
        guard let cls = vocab["[CLS]"], let sep = vocab["[SEP]"], let unk = vocab["[UNK]"] else {
            throw TokenizerError.vocabulary("\(source): lacks [CLS], [SEP] or [UNK]")
        }
        guard maxLength >= 2 else { throw TokenizerError.vocabulary("maxLength must be at least 2") }
        self.vocab = vocab; self.maxLength = maxLength; self.cls = cls; self.sep = sep; self.unk = unk
    }

    /// Token ids with [CLS] and [SEP], truncated to maxLength.
    public func encode(_ text: String) -> [Int] {
        var ids = [cls]
        for word in preTokenize(normalize(text)) {
            ids += wordPiece(word)
            if ids.count >= maxLength - 1 { break }
        }
        return Array(ids.prefix(maxLength - 1)) + [sep]
    }

    /// Clean control characters, pad CJK ideographs with spaces, lowercase, strip accents.
    func normalize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            let v = s.value
            if v == 0 || v == 0xFFFD { continue }
            let cat = s.properties.generalCategory
            if s == "\t" || s == "\n" || s == "\r" || cat == .spaceSeparator || s == " " {
                out.append(" ")
            } else if cat == .control || cat == .format {
                continue
            } else if Self.isCJK(v) {
                out.append(" "); out.append(s); out.append(" ")
            } else {
                out.append(s)
            }
        }
        let lowered = String(out).lowercased()
        var stripped = String.UnicodeScalarView()
        for s in lowered.decomposedStringWithCanonicalMapping.unicodeScalars
        where s.properties.generalCategory != .nonspacingMark {
            stripped.append(s)
        }
        return String(stripped)
    }

    /// Split on whitespace, and make every punctuation character a word of its own.
    func preTokenize(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush() { if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() } }
        for s in text.unicodeScalars {
            if s.properties.isWhitespace {
                flush()
            } else if Self.isPunctuation(s) {
                flush(); words.append(String(s))
            } else {
                current.append(s)
            }
        }
        flush()
        return words
    }

    /// Greedy longest-match-first; a word that cannot be covered becomes [UNK].
    func wordPiece(_ word: String) -> [Int] {
        let chars = Array(word.unicodeScalars)
        if chars.count > maxCharsPerWord { return [unk] }
        var pieces: [Int] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: Int?
            while start < end {
                var sub = String(String.UnicodeScalarView(chars[start..<end]))
                if start > 0 { sub = "##" + sub }
                if let id = vocab[sub] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unk] }
            pieces.append(id)
            start = end
        }
        return pieces
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}

public enum TokenizerError: Error, CustomStringConvertible {
    case vocabulary(String)
    public var description: String {
        switch self { case .vocabulary(let m): return m }
    }
}
