import Foundation

/// Certificates for the TLS tests, made with Debian's openssl in a directory of the test's own: `ca.pem`/`ca.key`, a
/// server certificate for 127.0.0.1 signed by it (`server.pem`/`server.key`), and a second CA that signed nothing
/// (`other.pem`), for the test that a certificate which does not chain is refused.
public enum TestCertificates {
    public struct CommandFailed: Error, CustomStringConvertible {
        public let description: String
    }

    public static func make(in dir: String) throws {
        let req = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj"]
        try run(req + ["/CN=Millstream test CA", "-keyout", "ca.key", "-out", "ca.pem"], in: dir)
        try run(req + ["/CN=Someone else", "-keyout", "other.key", "-out", "other.pem"], in: dir)
        try run(
            [
                "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
                "-out", "server.csr",
            ], in: dir)
        try "subjectAltName = IP:127.0.0.1\n".write(toFile: dir + "/san.ext", atomically: true, encoding: .utf8)
        try run(
            [
                "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "san.ext", "-out", "server.pem",
            ], in: dir)
    }

    /// Runs a command, throwing with its error output if it fails.
    public static func run(_ arguments: [String], in directory: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CommandFailed(
                description: "\(arguments.joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
