import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP GET through URLSession (FoundationNetworking, libcurl on Linux), bridged to a
/// blocking call: the caller's thread waits in short slices, so it can cancel the request the
/// moment the caller says so, and abandon it when no byte came for `timeout` seconds (a watchdog
/// of our own: it covers connecting and a stall mid-answer alike, whatever the platform's
/// URLSession does with its own timeouts). No redirect is followed (the credentials would go
/// with it), nothing is cached or kept on disk, TLS certificates are verified as URLSession does
/// by default (the system's trust store).
struct HTTPAnswer: Sendable {
    var status: Int
    /// Header names in lower case.
    var headers: [String: String]
    var body: Data
}

enum TransferFailure: Error, Sendable {
    case cancelled
    case timedOut
    case tooLarge(limit: Int)
    /// A connection problem worth another attempt (refused, lost, reset, host not found).
    case connection(String)
    /// TLS: the certificate could not be verified, or the handshake failed. Never retried.
    case tls(String)
    /// Bytes that are not HTTP. Never retried.
    case notHTTP(String)
}

final class HTTPTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // @unchecked: every mutable field is read and written only while `lock` is held.
    private let lock = NSLock()
    private var body = Data()
    private var response: HTTPURLResponse?
    private var failure: Error?
    private var finished = false
    private var lastActivity = DispatchTime.now()
    private var overLimit = false
    /// The answer that asked for credentials (401), when URLSession made it a challenge.
    private var challenged: HTTPURLResponse?
    private let done = DispatchSemaphore(value: 0)
    private let maxBytes: Int
    private let onBytes: @Sendable (_ received: Int64, _ expected: Int64?) -> Void

    private init(maxBytes: Int, onBytes: @escaping @Sendable (Int64, Int64?) -> Void) {
        self.maxBytes = maxBytes
        self.onBytes = onBytes
    }

    /// Runs one GET of `request` to the end, to a failure, to `timeout` seconds without a byte,
    /// or to `isCancelled()` turning true.
    /// `keepFirst`: an answer longer than `maxBytes` is stopped there and its first `maxBytes`
    /// returned (to read a file's header without fetching the file), instead of refused.
    static func run(_ request: URLRequest, timeout: Double, maxBytes: Int, keepFirst: Bool = false,
                    onBytes: @escaping @Sendable (Int64, Int64?) -> Void = { _, _ in },
                    isCancelled: @Sendable () -> Bool) -> Result<HTTPAnswer, TransferFailure> {
        let transfer = HTTPTransfer(maxBytes: maxBytes, onBytes: onBytes)
        let config = URLSessionConfiguration.ephemeral
        config.urlCache = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.httpCookieStorage = nil
        config.httpShouldSetCookies = false
        config.urlCredentialStorage = nil
        // Our watchdog decides; these only keep URLSession from giving up earlier.
        config.timeoutIntervalForRequest = timeout + 5
        config.timeoutIntervalForResource = 24 * 3600
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: config, delegate: transfer, delegateQueue: queue)
        defer { session.invalidateAndCancel() }
        var r = request
        r.timeoutInterval = timeout + 5
        let task = session.dataTask(with: r)
        task.resume()
        var stopped: TransferFailure?
        while true {
            if transfer.done.wait(timeout: .now() + .milliseconds(50)) == .success { break }
            if isCancelled() { stopped = .cancelled }
            else if transfer.idleSeconds > timeout { stopped = .timedOut }
            else if transfer.isOverLimit { stopped = .tooLarge(limit: maxBytes) }
            if stopped != nil {
                task.cancel()
                // The delegate's completion follows the cancel promptly; do not wait forever on it.
                _ = transfer.done.wait(timeout: .now() + .seconds(2))
                break
            }
        }
        if case .tooLarge? = stopped, keepFirst { return transfer.result(partial: true) }
        if let stopped { return .failure(stopped) }
        return transfer.result(partial: false)
    }

    var idleSeconds: Double {
        lock.lock(); defer { lock.unlock() }
        return Double(DispatchTime.now().uptimeNanoseconds - lastActivity.uptimeNanoseconds) / 1e9
    }

    var isOverLimit: Bool { lock.lock(); defer { lock.unlock() }; return overLimit }

    private func result(partial: Bool) -> Result<HTTPAnswer, TransferFailure> {
        lock.lock(); defer { lock.unlock() }
        if overLimit && !partial { return .failure(.tooLarge(limit: maxBytes)) }
        if let challenged {
            return .success(HTTPAnswer(status: challenged.statusCode, headers: Self.headers(challenged), body: Data()))
        }
        if let failure, !partial { return .failure(Self.classify(failure)) }
        guard let response else { return .failure(.notHTTP("no HTTP response")) }
        let headers = Self.headers(response)
        // A Content-Length the body falls short of: the connection closed mid-answer.
        if !partial, let declared = headers["content-length"].flatMap({ Int64($0) }), declared != Int64(body.count),
           headers["content-encoding"] == nil {
            return .failure(.connection("the connection closed after \(body.count) of \(declared) bytes"))
        }
        return .success(HTTPAnswer(status: response.statusCode, headers: headers, body: body))
    }

    static func headers(_ response: HTTPURLResponse) -> [String: String] {
        var headers: [String: String] = [:]
        for (k, v) in response.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
        }
        return headers
    }

    static func classify(_ error: Error) -> TransferFailure {
        let ns = error as NSError
        let text = ns.localizedDescription
        guard ns.domain == NSURLErrorDomain else { return .connection(text) }
        switch URLError.Code(rawValue: ns.code) {
        case .cancelled: return .cancelled
        case .timedOut: return .timedOut
        case .cannotConnectToHost: return .connection("could not connect (connection refused)")
        case .cannotFindHost, .dnsLookupFailed: return .connection("the host name is not known (\(text))")
        case .networkConnectionLost: return .connection("the connection was lost mid-answer")
        case .notConnectedToInternet: return .connection("this machine has no network")
        case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
             .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid, .clientCertificateRejected,
             .clientCertificateRequired:
            return .tls(text)
        case .badServerResponse, .cannotParseResponse, .zeroByteResource, .cannotDecodeRawData, .cannotDecodeContentData:
            return .notHTTP(text)
        // Bytes that are not HTTP ("Received HTTP/0.9 when not allowed"): libcurl's
        // CURLE_UNSUPPORTED_PROTOCOL, which FoundationNetworking reports as unsupportedURL
        // (the URL itself was checked to be http or https).
        case .unsupportedURL: return .notHTTP(text)
        default:
            // FoundationNetworking reports libcurl's certificate and handshake failures as
            // "unknown" (-1) with libcurl's text ("SSL certificate problem: self-signed certificate").
            let lower = text.lowercased()
            if lower.contains("ssl") || lower.contains("certificate") || lower.contains("tls") { return .tls(text) }
            return .connection(text)
        }
    }

    // MARK: URLSessionDataDelegate

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.lock()
        self.response = response as? HTTPURLResponse
        lastActivity = .now()
        lock.unlock()
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        lastActivity = .now()
        if body.count + data.count > maxBytes {
            body.append(data.prefix(maxBytes - body.count))
            overLimit = true
        } else {
            body.append(data)
        }
        let received = Int64(body.count)
        let expected = response.flatMap { $0.expectedContentLength > 0 ? $0.expectedContentLength : nil }
        lock.unlock()
        onBytes(received, expected)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.lock()
        failure = error
        finished = true
        lock.unlock()
        done.signal()
    }

    /// A 401 is the answer, not a prompt: no credential is offered here (the Authorization header
    /// already went with the request), so the status reaches the caller. Server trust (TLS) is
    /// left to URLSession's default verification.
    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        #if canImport(Darwin)
        if challenge.protectionSpace.authenticationMethod == NSURLAuthenticationMethodServerTrust {
            completionHandler(.performDefaultHandling, nil)
            return
        }
        #endif
        // Declining ends the task as "cancelled" on Linux: keep the 401 (or 407) it answered to.
        lock.lock()
        challenged = (challenge.failureResponse as? HTTPURLResponse) ?? response
        lock.unlock()
        completionHandler(.rejectProtectionSpace, nil)
    }

    /// Redirects are not followed: the Authorization header would go to wherever they point.
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
