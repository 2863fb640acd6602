import Foundation

/// Finds a key that appears twice in one JSON object. JSONSerialization and JSONDecoder keep
/// the last value without a word, so `{"label": "benign", ..., "label": "malignant"}` would be
/// read as whichever came last; a file saying two things is refused instead.
///
/// A single pass over the bytes with an explicit stack (no recursion, so no depth limit of its
/// own); meant for text a JSON parser has accepted, and safe on any bytes (malformed input just
/// ends the scan with no answer). Keys compare as Swift strings (escapes decoded, canonically
/// equivalent spellings equal), as they would collide in a `[String: Any]`.
public enum JSONDuplicateKeys {
    /// The first duplicate: `field` is the key's path as case.json errors name fields
    /// ("radiographs[0].sha256", "labs[1].value", "id").
    public static func first(in text: String) -> (field: String, key: String)? {
        var text = text
        return text.withUTF8 { first(in: $0) }
    }

    public static func first(in b: UnsafeBufferPointer<UInt8>) -> (field: String, key: String)? {
        struct Container {
            let isObject: Bool
            var keys: Set<String> = []
            var key: String? = nil    // objects: the member whose value comes next
            var index = 0             // arrays: the element whose value comes next
        }
        // A container's path is built from the stack only when a duplicate is found (O(1) a push,
        // whatever the depth).
        func path(_ stack: [Container], _ key: String) -> String {
            var field = ""
            for (level, c) in stack.enumerated() {
                let last = level == stack.count - 1
                let step = c.isObject ? (last ? key : (c.key ?? "")) : "[\(c.index)]"
                if c.isObject, !field.isEmpty { field += "." }
                field += step
            }
            return field
        }
        var stack: [Container] = []
        var expectKey = false
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            switch c {
            case 0x7B, 0x5B:  // { [
                stack.append(Container(isObject: c == 0x7B))
                expectKey = c == 0x7B
                i += 1
            case 0x7D, 0x5D:  // } ]
                guard stack.popLast() != nil else { return nil }
                expectKey = false
                i += 1
            case 0x2C:  // ,
                guard !stack.isEmpty else { return nil }
                if stack[stack.count - 1].isObject { expectKey = true } else { stack[stack.count - 1].index += 1 }
                i += 1
            case 0x22:  // "
                guard let (s, next) = string(b, from: i + 1, decode: expectKey) else { return nil }
                if expectKey, !stack.isEmpty {
                    let top = stack.count - 1
                    if stack[top].keys.contains(s) { return (path(stack, s), s) }
                    stack[top].keys.insert(s)
                    stack[top].key = s
                    expectKey = false
                }
                i = next
            default:  // ':', whitespace, numbers, true/false/null
                i += 1
            }
        }
        return nil
    }

    /// The string starting at `from` (after its opening quote), decoded when `decode` (else
    /// only skipped), and the index after its closing quote; nil when it does not end.
    static func string(_ b: UnsafeBufferPointer<UInt8>, from start: Int, decode: Bool) -> (String, Int)? {
        var i = start
        var plain = true
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                if !decode { return ("", i + 1) }
                if plain { return (String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self), i + 1) }
                return (unescape(UnsafeBufferPointer(rebasing: b[start..<i])), i + 1)
            }
            if c == 0x5C { plain = false; i += 2 } else { i += 1 }
        }
        return nil
    }

    /// JSON escapes decoded: \" \\ \/ \b \f \n \r \t and \uXXXX (surrogate pairs joined; a
    /// lone surrogate becomes U+FFFD, as the parser would refuse it anyway).
    static func unescape(_ b: UnsafeBufferPointer<UInt8>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(b.count)
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= b.count else { return nil }
            var v: UInt32 = 0
            for k in at..<at + 4 {
                let c = b[k]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: return nil
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        func append(_ scalar: Unicode.Scalar) { bytes.append(contentsOf: Array(String(Character(scalar)).utf8)) }
        var i = 0
        while i < b.count {
            let c = b[i]
            guard c == 0x5C, i + 1 < b.count else { bytes.append(c); i += 1; continue }
            let e = b[i + 1]
            i += 2
            switch e {
            case 0x62: bytes.append(0x08)
            case 0x66: bytes.append(0x0C)
            case 0x6E: bytes.append(0x0A)
            case 0x72: bytes.append(0x0D)
            case 0x74: bytes.append(0x09)
            case 0x75:
                guard let u = hex4(i) else { append("\u{FFFD}"); continue }
                i += 4
                if (0xD800...0xDBFF).contains(u), i + 6 <= b.count, b[i] == 0x5C, b[i + 1] == 0x75,
                   let low = hex4(i + 2), (0xDC00...0xDFFF).contains(low) {
                    i += 6
                    append(Unicode.Scalar(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}")
                } else {
                    append(Unicode.Scalar(u) ?? "\u{FFFD}")
                }
            default: bytes.append(e)  // \" \\ \/ (and anything else, which a parser refuses)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
