// A minimal HTTP/1.1 client for loopback servers, on POSIX sockets.
//
// URLSession on Linux (swift-corelibs-foundation, through libcurl) fails with "Failed writing header"
// on chromedriver's answers, whose header lines have no space after the colon ("Content-Length:249");
// the WebDriver client talks through this instead. One request per connection (Connection: close).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An HTTP answer: the status code and the body.
public struct HTTPReply: Sendable {
    /// The status code, e.g. 200.
    public var status: Int
    /// The body bytes.
    public var body: Data
}

/// A failed exchange with a loopback server.
public struct LoopbackHTTPError: Error, CustomStringConvertible {
    /// What went wrong, e.g. "connect: Connection refused".
    public var message: String
    /// The message.
    public var description: String { "HTTP to 127.0.0.1: \(message)" }
}

/// Sends one request to 127.0.0.1:`port` and reads the whole answer (status, headers, a body of
/// Content-Length bytes or up to the close). Blocks the calling thread, for at most `timeout` per
/// read or write.
public func loopbackHTTP(port: Int, method: String, path: String, body: Data? = nil,
                         contentType: String = "application/json; charset=utf-8",
                         timeout: TimeInterval = 60) throws -> HTTPReply {
    let fd = try connectLoopback(port: port, timeout: timeout)
    defer { close(fd) }

    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    if let body { request += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
    let bytes = [UInt8]((request + "\r\n").utf8) + [UInt8](body ?? Data())
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw LoopbackHTTPError(message: "write: \(String(cString: strerror(errno)))") }
        sent += n
    }

    var received = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 65536)
    var headerEnd: Int?
    var expected: Int?
    while true {
        if let headerEnd, let expected, received.count - headerEnd >= expected { break }
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { break }
        guard n > 0 else { throw LoopbackHTTPError(message: "read: \(String(cString: strerror(errno)))") }
        received += chunk[0..<n]
        if headerEnd == nil, let end = findHeaderEnd(received) {
            headerEnd = end
            let head = String(decoding: received[0..<end], as: UTF8.self)
            if head.lowercased().contains("transfer-encoding: chunked") || head.lowercased().contains("transfer-encoding:chunked") {
                throw LoopbackHTTPError(message: "chunked answers are not supported")
            }
            expected = headerValue("content-length", in: head).flatMap { Int($0) }
        }
    }
    guard let headerEnd else { throw LoopbackHTTPError(message: "the answer ended inside its headers") }
    let head = String(decoding: received[0..<headerEnd], as: UTF8.self)
    let statusLine = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
        throw LoopbackHTTPError(message: "not an HTTP status line: \(statusLine)")
    }
    var body = Data(received[headerEnd...])
    if let expected {
        guard body.count >= expected else { throw LoopbackHTTPError(message: "body cut off at \(body.count) of \(expected) bytes") }
        body = body.prefix(expected)
    }
    return HTTPReply(status: status, body: body)
}

/// Connects to 127.0.0.1:`port`, sends `bytes` (say, part of a request) and then nothing, and reads until
/// the server closes the connection or `wait` seconds pass: what arrived, and whether the server closed it.
public func loopbackStall(port: Int, sending bytes: [UInt8], wait: TimeInterval) throws -> (received: [UInt8], closed: Bool) {
    let fd = try connectLoopback(port: port, timeout: wait)
    defer { close(fd) }
    let sent = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard sent == bytes.count else { throw LoopbackHTTPError(message: "write: \(String(cString: strerror(errno)))") }
    var received = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { return (received, true) }
        if n < 0 { return (received, errno == ECONNRESET) }         // EAGAIN: `wait` passed with the connection open
        received += chunk[0..<n]
    }
}

/// A TCP socket connected to 127.0.0.1:`port` whose reads and writes give up after `timeout` seconds.
private func connectLoopback(port: Int, timeout: TimeInterval) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LoopbackHTTPError(message: "socket: \(String(cString: strerror(errno)))") }
    var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw LoopbackHTTPError(message: "connect to port \(port): \(String(cString: strerror(errno)))")
    }
    return fd
}

/// The index just past the blank line that ends the headers.
private func findHeaderEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
        return i + 4
    }
    return nil
}

/// The value of header `name` (lower case) in `head`, with or without a space after the colon.
private func headerValue(_ name: String, in head: String) -> String? {
    for line in head.split(separator: "\r\n").dropFirst() {
        guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { continue }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return nil
}
