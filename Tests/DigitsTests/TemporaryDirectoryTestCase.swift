import XCTest

/// A test case with a fresh temporary folder for each test, removed afterwards.
class TemporaryDirectoryTestCase: XCTestCase {
    /// The folder of the test in progress.
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("digits-\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }
}
