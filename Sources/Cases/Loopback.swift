import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether a host is this machine, so that plain text (HTTP, PostgreSQL without TLS) does not
/// cross a network: the one rule for the case store's URLs and the PACS servers.
public enum Loopback {
    /// `localhost`, `::1` (bracketed or not), or an IPv4 address in 127.0.0.0/8 written as an
    /// address. A name that only starts with "127." (`127.example.org`) is another machine.
    public static func isLoopback(host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, h, &address) == 1 else { return false }
        return UInt32(bigEndian: address.s_addr) >> 24 == 127
    }
}
