// ConnectionGuard: a channel handler between the HTTP codec and Hummingbird's request handling, for three
// things a connection can do before or around a request that the router never sees:
//
//   - HTTP that does not parse (a Content-Length given twice or negative, a bad chunk size, a head too
//     large): Hummingbird answers an empty 400. The guard answers it instead, with the JSON error body every
//     other refusal has, saying what is wrong, and closes the connection (its framing cannot be trusted).
//   - A client that closes its side of the connection before its answer has left: the connection is closed,
//     and the request's handler, which watches the close future, drops its place in the work queue.
//   - A response that refuses the body (413 too large, 408 too slow): Hummingbird would read the rest of the
//     body to the end, to keep the connection for the next request, so an over-limit chunked body was read
//     whole after its 413. The guard closes the connection once such a response is written.

import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers unparsable HTTP with a JSON 400 and closes connections whose body was refused.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Requests whose head was read and whose response has not ended.
    private var open = 0
    /// Whether the response being written refused its request's body.
    private var closeAfterResponse = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { open += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            if response.status == .contentTooLarge || response.status == .requestTimeout { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            open = max(0, open - 1)
            if closeAfterResponse {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
            } else {
                context.write(data, promise: promise)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client closed its side while its request is still unanswered: it has left (HTTP/1.1 clients
        // wait for the answer with the connection open). Closing the connection tells the request's handler,
        // through the close future, to give up its place in the work queue.
        if let event = event as? ChannelEvent, event == .inputClosed, open > 0 {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // With a response under way, the router's handler owns the connection: let Hummingbird end it.
        guard let parse = error as? HTTPParserError, open == 0 else {
            context.fireErrorCaught(error)
            return
        }
        let message = #"{"error":"the request is not valid HTTP/1.1: "# + Self.describe(parse) + #""}"#
        var buffer = context.channel.allocator.buffer(capacity: message.utf8.count)
        buffer.writeString(message)
        var head = HTTPResponse(status: .badRequest)
        head.headerFields[.contentType] = "application/json; charset=utf-8"
        head.headerFields[.contentLength] = String(message.utf8.count)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.close(promise: nil)
    }

    /// What is wrong with the request, in words (no quotes or backslashes: it goes into a JSON string as it is).
    static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidContentLength: return "its Content-Length is not a length (negative, not a number, or too large)"
        case .unexpectedContentLength:
            return "its length is given more than once (two Content-Length fields, or Content-Length with Transfer-Encoding)"
        case .invalidChunkSize: return "a chunk size of its chunked body is not a hexadecimal number"
        case .headerOverflow: return "its head is larger than the server reads"
        case .invalidHeaderToken: return "a header field name or value holds characters HTTP does not allow"
        case .invalidMethod: return "its method is not an HTTP method"
        case .invalidURL, .invalidPath, .invalidQueryString, .invalidFragment, .invalidHost, .invalidPort:
            return "its request target is not a valid URL path"
        case .invalidVersion: return "its HTTP version is not HTTP/1.0 or HTTP/1.1"
        default: return "its framing cannot be parsed (as with Content-Length and Transfer-Encoding together)"
        }
    }
}
