// A tiny HTTP/1.1 server for the downloader tests: POSIX sockets on 127.0.0.1, an ephemeral port,
// one background thread, one connection at a time, every answer closing its connection.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Serves canned answers by request path on a loopback port until stopped.
final class LoopbackHTTPServer: @unchecked Sendable {
    /// What the server answers for one path.
    enum Reply {
        /// A complete answer with this status, content type and body.
        case full(status: Int, contentType: String, body: [UInt8])
        /// Headers announcing `declaredLength` body bytes, then only `body`, then the connection closes.
        case cutOff(declaredLength: Int, body: [UInt8])
        /// Accept the request, send nothing for `seconds`, then close.
        case stall(seconds: Double)
    }

    private let lock = NSLock()
    private var routes: [String: Reply]
    private var requestLog: [String] = []
    private var stopping = false
    private let listener: Int32
    private let finished = DispatchSemaphore(value: 0)
    /// The port the server listens on.
    let port: UInt16
    /// The most connections served before the server stops by itself (so a stray loop cannot run forever).
    let maxConnections = 200

    /// Starts a server with the given routes (path → reply); unknown paths get 404.
    init(routes: [String: Reply]) throws {
        self.routes = routes
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// The base URL for a path prefix, such as http://127.0.0.1:PORT/m1/.
    func url(_ prefix: String) -> URL {
        URL(string: "http://127.0.0.1:\(port)/\(prefix)/") ?? URL(fileURLWithPath: "/")
    }

    /// The paths requested so far, in order.
    var requests: [String] { lock.withLock { requestLog } }

    /// Stops accepting, and waits (briefly) for the serving thread to finish.
    func stop() {
        lock.withLock { stopping = true }
        shutdown(listener, Int32(SHUT_RDWR))
        _ = finished.wait(timeout: .now() + 5)
        close(listener)
    }

    private func serve() {
        defer { finished.signal() }
        for _ in 0..<maxConnections {
            let client = accept(listener, nil, nil)
            if lock.withLock({ stopping }) {
                if client >= 0 { close(client) }
                return
            }
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Read the request head (bounded), then take the path from "GET /path HTTP/1.1".
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while head.count < 16_384 {
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            head += buffer[0..<n]
            if String(decoding: head, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        let requestLine = String(decoding: head, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = requestLine.split(separator: " ")
        let path = parts.count >= 2 ? String(parts[1]) : "/"
        let reply: Reply = lock.withLock {
            requestLog.append(path)
            return routes[path] ?? .full(status: 404, contentType: "text/plain", body: Array("not found\n".utf8))
        }
        switch reply {
        case let .full(status, contentType, body):
            sendAll(client, headers(status: status, contentType: contentType, length: body.count) + body)
        case let .cutOff(declaredLength, body):
            sendAll(client, headers(status: 200, contentType: "application/gzip", length: declaredLength) + body)
        case let .stall(seconds):
            // Sleep in short steps so that stopping the server cuts the stall short.
            let end = Date().addingTimeInterval(seconds)
            while Date() < end && !lock.withLock({ stopping }) {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    private func headers(status: Int, contentType: String, length: Int) -> [UInt8] {
        let reason = [200: "OK", 404: "Not Found", 500: "Internal Server Error"][status] ?? "Status"
        return Array(("HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\n"
                      + "Content-Length: \(length)\r\nConnection: close\r\n\r\n").utf8)
    }

    private func sendAll(_ client: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                #if canImport(Glibc)
                let flags = Int32(MSG_NOSIGNAL)
                #else
                let flags: Int32 = 0
                #endif
                return send(client, raw.baseAddress.map { $0 + sent }, bytes.count - sent, flags)
            }
            if n <= 0 { return }
            sent += n
        }
    }
}
