import Foundation
import MQTT

/// A real MQTT broker (Mosquitto 2 from Debian, installed by scripts/bootstrap) on free loopback ports, started for a
/// test, a benchmark or `millstream demo --source mqtt`, and stopped after it. Sessions persist in its own directory across `restart()`. With `users` it refuses
/// anonymous clients; with `tls` it also listens for TLS on `tlsPort` with the certificates of `TestCertificates`.
public final class Mosquitto: @unchecked Sendable {
    public let port: Int
    public let tlsPort: Int
    public let directory: String
    private var pid: pid_t?

    public static let binary = "/usr/sbin/mosquitto"

    public init(users: [String: String] = [:], tls: Bool = false, extra: [String] = []) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw MQTTError("Mosquitto is not installed: run scripts/bootstrap (it installs Debian's mosquitto)")
        }
        port = freeLoopbackPort()
        tlsPort = tls ? freeLoopbackPort() : 0
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("mosquitto-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = [
            "user \(NSUserName())", "persistence true", "persistence_location \(directory)/",
            "log_dest file \(directory)/mosquitto.log",
            "log_type error", "log_type warning", "log_type notice",
            "allow_anonymous \(users.isEmpty)", "max_queued_messages 100000", "listener \(port) 127.0.0.1",
        ]
        if !users.isEmpty {
            let file = directory + "/passwords"
            FileManager.default.createFile(atPath: file, contents: nil)
            for (user, password) in users {
                try TestCertificates.run(["mosquitto_passwd", "-b", file, user, password], in: directory)
            }
            config.insert("password_file \(file)", at: 0)
        }
        if tls {
            try TestCertificates.make(in: directory)
            config += [
                "listener \(tlsPort) 127.0.0.1", "cafile \(directory)/ca.pem", "certfile \(directory)/server.pem",
                "keyfile \(directory)/server.key",
            ]
        }
        try (config + extra).joined(separator: "\n").appending("\n").write(
            toFile: directory + "/mosquitto.conf", atomically: true, encoding: .utf8)
        try start()
    }

    /// Started with no signal blocked: a child of the test runner inherits its blocked SIGTERM otherwise (Foundation's
    /// Process keeps the mask), and would neither save its sessions nor exit when told to.
    public func start() throws {
        let arguments = [Self.binary, "-c", directory + "/mosquitto.conf"]
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // Its own process group: a Ctrl-C at the terminal stops `millstream demo`, which then stops the broker after
        // the services that use it, not the broker under them.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var child = pid_t()
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let status = posix_spawn(&child, Self.binary, &actions, &attributes, argv, environ)
        guard status == 0 else { throw MQTTError("cannot start \(Self.binary): \(String(cString: strerror(status)))") }
        pid = child
    }

    /// Waits until the broker accepts connections.
    public func ready() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                let c = try await MQTTConnection.connect(
                    MQTTClientOptions(host: "127.0.0.1", port: port, clientID: "ready-\(UUID().uuidString.prefix(8))"))
                await c.disconnect()
                return
            } catch let error as MQTTError where !error.retriable {
                return  // it answered (and refused an anonymous client)
            } catch {
                if ContinuousClock.now > deadline {
                    throw MQTTError("Mosquitto did not start on port \(port): \(error)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// SIGTERM: Mosquitto saves its sessions and exits.
    public func stop() {
        guard let pid else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        self.pid = nil
    }

    public func restart() async throws {
        stop()
        try start()
        try await ready()
    }

    /// Stops the broker and removes its directory.
    public func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var log: String { (try? String(contentsOfFile: directory + "/mosquitto.log", encoding: .utf8)) ?? "" }
}

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick).
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
