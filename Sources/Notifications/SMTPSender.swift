import ClientTLS
import Foundation
import NIOCore
import NIOPosix

/// E-mail over SMTP (RFC 5321): STARTTLS (RFC 3207) before anything but the greeting and EHLO, the server's
/// certificate checked against `ca_file` or the system's roots, AUTH PLAIN (RFC 4954) only inside TLS. Hand-written on
/// SwiftNIO because no SMTP client is among the project's packages; it speaks the few commands a notification needs.
public struct SMTPSender: Sendable {
    public init() {}

    /// One message: its subject and plain-text body, and the alert it is about (a header, for mail filters).
    public struct Message: Sendable, Equatable {
        public var subject: String
        public var body: String
        public var alert: String
    }

    /// Sends `message` to the channel's recipients, or throws an `SMTPError` naming the server and the step.
    public func send(_ message: Message, via email: NotificationConfig.Email) async throws {
        let server = "\(email.host):\(email.port)"
        try await Deadline.within(.seconds(email.timeout), what: "SMTP server \(server)") {
            let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
            do {
                channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(Int64(email.timeout)))
                    .connect(host: email.host, port: email.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
            } catch {
                throw SMTPError("cannot connect to SMTP server \(server): \(error)")
            }
            try await channel.executeThenClose { inbound, outbound in
                var session = SMTPSession(
                    server: server, replies: inbound.makeAsyncIterator(), outbound: outbound, channel: channel.channel)
                try await session.deliver(message, email)
            }
        }
    }

    /// The RFC 5322 text of a message (CRLF lines, not yet dot-stuffed): UTF-8 subject as an encoded word, the body
    /// as 7-bit text when it is ASCII with short lines, else base64.
    static func render(_ m: Message, from: String, to: [String], date: Date = Date()) -> String {
        let ascii =
            m.body.utf8.allSatisfy { $0 < 128 }
            && m.body.split(separator: "\n").allSatisfy { $0.utf8.count <= 900 }
        // Header values on one line: a line break in an alert's text must not start a header of its own.
        func line(_ text: String) -> String {
            String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : $0 }))
        }
        let plain = line(m.subject)
        let subject =
            plain.utf8.allSatisfy { $0 < 128 } ? plain : "=?utf-8?B?\(Data(plain.utf8).base64EncodedString())?="
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        var head = [
            "From: Millstream <\(from)>", "To: \(to.joined(separator: ", "))", "Subject: \(subject)",
            "Date: \(formatter.string(from: date))", "Message-ID: <\(UUID().uuidString.lowercased())@millstream>",
            "X-Millstream-Alert: \(line(m.alert))", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
        ]
        let body: String
        if ascii {
            head.append("Content-Transfer-Encoding: 7bit")
            body = m.body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        } else {
            head.append("Content-Transfer-Encoding: base64")
            body = Data(m.body.utf8).base64EncodedString(options: [
                .lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed,
            ])
        }
        return head.joined(separator: "\r\n") + "\r\n\r\n" + body + "\r\n"
    }

    /// Lines that begin with a dot get another (RFC 5321 4.5.2), so none ends the DATA early.
    static func dotStuffed(_ text: String) -> String {
        text.split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
    }
}

/// A delivery that failed, with where and why.
public struct SMTPError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// One SMTP conversation: commands out, multi-line replies in.
struct SMTPSession {
    let server: String
    var replies: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let channel: any Channel
    var pending: [UInt8] = []
    var secure = false

    mutating func deliver(_ message: SMTPSender.Message, _ email: NotificationConfig.Email) async throws {
        _ = try await expect([220], after: "connecting")
        var capabilities = try await hello()
        if email.starttls {
            guard capabilities.contains("STARTTLS") else {
                throw SMTPError(
                    "SMTP server \(server) does not offer STARTTLS; the channel requires it (starttls: false sends in "
                        + "clear, for a relay on the same host only)")
            }
            _ = try await command("STARTTLS", expect: [220])
            try await upgrade(email.tls, host: email.host)
            capabilities = try await hello()
        }
        if let user = email.username {
            guard secure else {
                throw SMTPError("SMTP server \(server): refusing to send the password of \(user) without TLS")
            }
            guard capabilities.contains("AUTH") else {
                throw SMTPError("SMTP server \(server) offers no AUTH, and the channel names a username")
            }
            let token = Data(([0] + Array(user.utf8) + [0] + Array((email.password ?? "").utf8))).base64EncodedString()
            _ = try await command("AUTH PLAIN \(token)", expect: [235], shown: "AUTH PLAIN")
        }
        _ = try await command("MAIL FROM:<\(email.from)>", expect: [250])
        for to in email.to { _ = try await command("RCPT TO:<\(to)>", expect: [250, 251]) }
        _ = try await command("DATA", expect: [354])
        let text = SMTPSender.dotStuffed(SMTPSender.render(message, from: email.from, to: email.to))
        _ = try await command(text + ".", expect: [250], shown: "the message")
        _ = try? await command("QUIT", expect: [221])
    }

    /// EHLO, and the capabilities the server lists (the first word of each line after the greeting, upper case).
    mutating func hello() async throws -> Set<String> {
        let lines = try await command("EHLO \(ProcessInfo.processInfo.hostName)", expect: [250])
        return Set(lines.dropFirst().compactMap { $0.split(separator: " ").first.map { $0.uppercased() } })
    }

    /// TLS at the front of the pipeline, once the server said go ahead; the handshake's failure (a certificate that
    /// does not chain to the CA, a wrong name) is this delivery's error.
    mutating func upgrade(_ tls: ClientTLS, host: String) async throws {
        let done = channel.eventLoop.makePromise(of: Void.self)
        let channel = self.channel
        do {
            try await channel.eventLoop.submit {
                try tls.configure(channel, host: host, handshake: done, upgrade: true)
            }.get()
            try await done.futureResult.get()
        } catch {
            done.fail(error)
            throw SMTPError("SMTP server \(server): TLS after STARTTLS failed: \(error)")
        }
        secure = true
    }

    mutating func command(_ line: String, expect codes: Set<Int>, shown: String? = nil) async throws -> [String] {
        try await outbound.write(ByteBuffer(string: line + "\r\n"))
        return try await expect(codes, after: shown ?? line)
    }

    /// The next reply's lines (code and separator removed), if its code is one of `codes`.
    mutating func expect(_ codes: Set<Int>, after step: String) async throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try await nextLine(step)
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let code = Int(String(line.prefix(3))) else {
                throw SMTPError("SMTP server \(server) answered \(step) with '\(line)', which is not an SMTP reply")
            }
            lines.append(String(line.dropFirst(4)))
            if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") {
                guard codes.contains(code) else {
                    throw SMTPError(
                        "SMTP server \(server) answered \(step) with \(code) \(lines.joined(separator: " "))")
                }
                return lines
            }
        }
    }

    mutating func nextLine(_ step: String) async throws -> String {
        while true {
            if let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(pending[..<end])
                pending.removeSubrange(...end)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard var buffer = try await replies.next() else {
                throw SMTPError("SMTP server \(server) closed the connection after \(step)")
            }
            pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        }
    }
}

/// Runs `body`, or throws when `limit` passes first.
enum Deadline {
    static func within(
        _ limit: Duration, what: String, _ body: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            guard finished else { throw SMTPError("\(what) did not finish within \(limit)") }
        }
    }
}
