// A small W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for tests that drive a real
// browser: headless Chromium through chromedriver, JSON over HTTP (`loopbackHTTP`), no Selenium.
//
//     guard let tools = ChromeDriver.locate() else { throw XCTSkip(ChromeDriver.missingMessage) }
//     let driver = try await ChromeDriver.start(tools)
//     defer { driver.stop() }
//     let session = try await driver.newSession()
//     try await session.navigate(to: URL(string: "http://127.0.0.1:8080/")!)
//     let canvas = try await session.findElement(css: "canvas")
//     try await session.drag(on: canvas, through: [(0, -50), (0, 50)])
//     let png = try await session.screenshot()

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A WebDriver command that failed: the command, and the driver's error code and message.
public struct WebDriverError: Error, CustomStringConvertible {
    /// What was asked, e.g. "POST /session/…/url".
    public var command: String
    /// The WebDriver error code ("no such element", "javascript error", …) or a transport problem.
    public var error: String
    /// The driver's message.
    public var message: String

    /// The error as one line.
    public var description: String { "WebDriver \(command): \(error): \(message)" }
}

/// A chromedriver process listening on a loopback port chosen by the system.
public final class ChromeDriver: @unchecked Sendable {
    /// The chromedriver and Chromium executables to use.
    public struct Tools: Sendable {
        /// The chromedriver executable.
        public var driver: URL
        /// The Chromium (or Chrome) executable.
        public var browser: URL
    }

    /// The loopback port chromedriver listens on.
    public let port: Int
    private let process: Process
    /// The browser that new sessions start.
    private let browser: URL

    private init(port: Int, process: Process, browser: URL) {
        self.port = port
        self.process = process
        self.browser = browser
    }

    deinit {
        stop()
    }

    /// chromedriver and Chromium from `$PATH` (`chromedriver`; `chromium`, `chromium-browser`,
    /// `google-chrome`), or nil when either is missing.
    public static func locate() -> Tools? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        func find(_ names: [String]) -> URL? {
            for name in names {
                for dir in path {
                    let url = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
                    if FileManager.default.isExecutableFile(atPath: url.path) { return url }
                }
            }
            return nil
        }
        guard let driver = find(["chromedriver"]),
              let browser = find(["chromium", "chromium-browser", "google-chrome"]) else { return nil }
        return Tools(driver: driver, browser: browser)
    }

    /// Why a browser test is skipped, and how to get what it needs.
    public static let missingMessage = "chromium and chromedriver are not on the PATH; run scripts/setup "
        + "(Debian: apt-get install chromium chromium-driver) to run the browser tests"

    /// Starts chromedriver on a free loopback port (it prints the port it bound) and waits until
    /// its status says it is ready.
    public static func start(_ tools: Tools, timeout: TimeInterval = 30) async throws -> ChromeDriver {
        let process = Process()
        process.executableURL = tools.driver
        process.arguments = ["--port=0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let port: Int
        do {
            port = try await readPort(from: output.fileHandleForReading, timeout: timeout)
        } catch {
            kill(process.processIdentifier, SIGKILL)
            throw error
        }
        let driver = ChromeDriver(port: port, process: process, browser: tools.browser)
        let deadline = Date().addingTimeInterval(timeout)
        var last = "no answer"
        while true {
            do {
                let status = try await driver.command("GET", "/status") as? [String: Any]
                if status?["ready"] as? Bool == true { return driver }
                last = String(describing: status)
            } catch {
                last = "\(error)"
            }
            guard Date() < deadline else {
                driver.stop()
                throw WebDriverError(command: "GET /status", error: "timeout",
                                     message: "chromedriver was not ready after \(timeout) s; last answer: \(last)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Reads chromedriver's standard output until "started successfully on port N." (an earlier line
    /// says "on port 0", the port asked for), then keeps draining it in the background so the driver
    /// never blocks on a full pipe.
    private static func readPort(from handle: FileHandle, timeout: TimeInterval) async throws -> Int {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            let once = ResumeOnce(continuation)
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                once.resume(throwing: WebDriverError(command: "start chromedriver", error: "timeout",
                                                     message: "no port announced within \(timeout) s"))
            }
            Thread.detachNewThread {
                var text = ""
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    guard !once.done else { continue }
                    text += String(decoding: data, as: UTF8.self)
                    if let range = text.range(of: "started successfully on port ") {
                        let digits = text[range.upperBound...].prefix { $0.isNumber }
                        if let port = Int(digits), text[range.upperBound...].dropFirst(digits.count).first != nil {
                            once.resume(returning: port)
                        }
                    }
                }
                once.resume(throwing: WebDriverError(command: "start chromedriver", error: "exited",
                                                     message: "chromedriver ended before announcing a port: \(text)"))
            }
        }
    }

    /// Opens a headless browser session with a window of `width` × `height` CSS pixels at scale 1.
    public func newSession(width: Int = 900, height: Int = 700) async throws -> WebDriverSession {
        let options: [String: Any] = [
            "binary": browser.path,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--force-device-scale-factor=1", "--window-size=\(width),\(height)", "--no-first-run"],
        ]
        let body: [String: Any] = ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": options]]]
        let value = try await command("POST", "/session", body)
        guard let id = (value as? [String: Any])?["sessionId"] as? String else {
            throw WebDriverError(command: "POST /session", error: "bad answer", message: "no sessionId in \(String(describing: value))")
        }
        return WebDriverSession(driver: self, id: id)
    }

    /// Stops chromedriver, which quits any browser it started: it is asked to shut down, and killed
    /// if it has not exited within 5 s. (It cannot be sent SIGTERM: a process started from a test
    /// inherits the test thread's blocked signals.)
    public func stop() {
        guard process.isRunning else { return }
        _ = try? loopbackHTTP(port: port, method: "GET", path: "/shutdown", timeout: 5)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Sends one WebDriver command and returns its `value`; a WebDriver error becomes `WebDriverError`.
    /// The blocking exchange runs on a thread of its own, so the tasks of a server in the same process
    /// (the page's server) keep their threads while the browser loads from it.
    func command(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any? {
        let name = "\(method) \(path)"
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let port = self.port
        let reply: HTTPReply = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try loopbackHTTP(port: port, method: method, path: path, body: payload))
                } catch {
                    continuation.resume(throwing: WebDriverError(command: name, error: "transport", message: "\(error)"))
                }
            }
        }
        let (data, status) = (reply.body, reply.status)
        let json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any]
        guard let json else {
            throw WebDriverError(command: name, error: "bad answer", message: "HTTP \(status): \(String(decoding: data, as: UTF8.self))")
        }
        let value = json["value"]
        if status != 200 {
            let details = value as? [String: Any]
            throw WebDriverError(command: name, error: details?["error"] as? String ?? "HTTP \(status)",
                                 message: details?["message"] as? String ?? String(decoding: data, as: UTF8.self))
        }
        return value is NSNull ? nil : value
    }
}

/// Resumes a continuation once; later calls do nothing.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = continuation }

    var done: Bool {
        lock.lock()
        defer { lock.unlock() }
        return continuation == nil
    }

    func resume(returning value: T) { take()?.resume(returning: value) }
    func resume(throwing error: any Error) { take()?.resume(throwing: error) }

    private func take() -> CheckedContinuation<T, any Error>? {
        lock.lock()
        defer { lock.unlock() }
        let c = continuation
        continuation = nil
        return c
    }
}

/// An element of the page, as WebDriver names it.
public struct WebElement: Sendable {
    /// The W3C key under which an element reference travels in JSON.
    static let key = "element-6066-11e4-a52e-4f735466cecf"
    /// The driver's id for the element.
    public let id: String

    /// The element as a script argument.
    var json: [String: Any] { [Self.key: id] }
}

/// An element's position and size in CSS pixels, relative to the page's top-left corner.
public struct ElementRect: Sendable, Equatable {
    /// Left and top edges.
    public var x: Double, y: Double
    /// Width and height.
    public var width: Double, height: Double
}

/// The kind of pointer a `drag` uses: mouse events, or touch (the page sees pointer events with
/// `pointerType` "touch", and touch events).
public enum PointerKind: String, Sendable {
    /// A mouse with its left button.
    case mouse
    /// A pen.
    case pen
    /// A finger on a touch screen.
    case touch
}

/// One browser session (one window) of a `ChromeDriver`.
public struct WebDriverSession: @unchecked Sendable {
    let driver: ChromeDriver
    /// The session id.
    public let id: String

    private func command(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any? {
        try await driver.command(method, "/session/\(id)" + path, body)
    }

    /// Loads `url` and waits for the page to finish loading.
    public func navigate(to url: URL) async throws {
        _ = try await command("POST", "/url", ["url": url.absoluteString])
    }

    /// The first element matching a CSS selector.
    public func findElement(css selector: String) async throws -> WebElement {
        let value = try await command("POST", "/element", ["using": "css selector", "value": selector])
        guard let id = (value as? [String: Any])?[WebElement.key] as? String else {
            throw WebDriverError(command: "find \(selector)", error: "bad answer", message: String(describing: value))
        }
        return WebElement(id: id)
    }

    /// Every element matching a CSS selector, in document order.
    public func findElements(css selector: String) async throws -> [WebElement] {
        let value = try await command("POST", "/elements", ["using": "css selector", "value": selector])
        return ((value as? [[String: Any]]) ?? []).compactMap { ($0[WebElement.key] as? String).map(WebElement.init) }
    }

    /// The element's rendered text.
    public func text(of element: WebElement) async throws -> String {
        try await command("GET", "/element/\(element.id)/text") as? String ?? ""
    }

    /// The element's position and size.
    public func rect(of element: WebElement) async throws -> ElementRect {
        let value = try await command("GET", "/element/\(element.id)/rect") as? [String: Any] ?? [:]
        func number(_ key: String) -> Double { (value[key] as? NSNumber)?.doubleValue ?? .nan }
        return ElementRect(x: number("x"), y: number("y"), width: number("width"), height: number("height"))
    }

    /// Clicks the element's centre.
    public func click(_ element: WebElement) async throws {
        _ = try await command("POST", "/element/\(element.id)/click", [String: Any]())
    }

    /// Runs `script` as the body of a function in the page, with `arguments` (JSON values, or
    /// `WebElement`s), and returns what it returns, as JSON values.
    public func execute(_ script: String, arguments: [Any] = []) async throws -> Any? {
        let args = arguments.map { ($0 as? WebElement)?.json ?? $0 }
        return try await command("POST", "/execute/sync", ["script": script, "args": args])
    }

    /// Presses a pointer at the first point, moves it through the others, and releases it. Points
    /// are CSS pixels from the element's centre; each move takes `stepMilliseconds`.
    public func drag(on element: WebElement, through points: [(x: Double, y: Double)],
                     pointer kind: PointerKind = .mouse, stepMilliseconds: Int = 10) async throws {
        guard let first = points.first else { return }
        func move(_ p: (x: Double, y: Double), duration: Int) -> [String: Any] {
            ["type": "pointerMove", "duration": duration, "origin": element.json, "x": Int(p.x.rounded()), "y": Int(p.y.rounded())]
        }
        var steps: [[String: Any]] = [move(first, duration: 0), ["type": "pointerDown", "button": 0]]
        steps += points.dropFirst().map { move($0, duration: stepMilliseconds) }
        steps.append(["type": "pointerUp", "button": 0])
        let source: [String: Any] = ["type": "pointer", "id": "\(kind.rawValue)-1",
                                     "parameters": ["pointerType": kind.rawValue], "actions": steps]
        _ = try await command("POST", "/actions", ["actions": [source]])
        _ = try await command("DELETE", "/actions")
    }

    /// A PNG of the window as it is now.
    public func screenshot() async throws -> Data {
        guard let base64 = try await command("GET", "/screenshot") as? String, let png = Data(base64Encoded: base64) else {
            throw WebDriverError(command: "GET screenshot", error: "bad answer", message: "not base64")
        }
        return png
    }

    /// Polls `condition` every `interval` until it returns a value, or throws after `timeout`.
    public func wait<T>(timeout: TimeInterval = 10, interval: Duration = .milliseconds(100), for what: String,
                        _ condition: () async throws -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let value = try await condition() { return value }
            guard Date() < deadline else {
                throw WebDriverError(command: "wait", error: "timeout", message: "\(what) did not happen within \(timeout) s")
            }
            try await Task.sleep(for: interval)
        }
    }

    /// Ends the session and closes its window.
    public func close() async throws {
        _ = try await driver.command("DELETE", "/session/\(id)")
    }
}
