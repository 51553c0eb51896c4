import ArgumentParser
import Foundation
import Server

extension Millstream {
    struct Tokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list and revoke the server's API tokens (stored hashed, each with a role).",
            discussion: """
                Roles: viewer (read), operator (acknowledge and clear alerts, approve recommendations), engineer \
                (promote and roll back models), admin (tokens). A running server picks up changes to the file.
                """,
            subcommands: [Create.self, List.self, Revoke.self])
    }
}

extension Millstream.Tokens {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token and print it (the only time it is shown; the file keeps its hash).")
        @Option(help: "viewer, operator, engineer or admin.") var role: String
        @Option(help: "Who or what uses it (shown in the audit log).") var name = "token"
        @Option(help: "Valid for this many days (default: until revoked).") var days: Int?
        @Option(help: "Tokens file.") var tokens = "./millstream-tokens.json"

        func validate() throws {
            _ = try parseRole(role)
            if let days, !(1...3650).contains(days) { throw ValidationError("--days must be from 1 to 3650") }
        }

        func run() async throws {
            let store = try TokenStore(path: tokens)
            let token = try store.create(
                name: name, role: try parseRole(role), validFor: days.map { .seconds($0 * 86_400) })
            print(token)
            Terminal.error("created a \(role) token '\(name)' in \(tokens)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every token: id, name, role, created, expiry.")
        @Option(help: "Tokens file.") var tokens = "./millstream-tokens.json"
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let entries = try TokenStore(path: tokens).entries
            if output.json {
                print(
                    Terminal.jsonLine([
                        "tokens": entries.map {
                            ["id": $0.id, "name": $0.name, "role": $0.role.rawValue, "created": $0.created]
                                as [String: Any]
                        }
                    ]))
                return
            }
            if entries.isEmpty { print("no tokens in \(tokens)") }
            for e in entries {
                let expiry =
                    e.expires.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) } ?? "never"
                print("\(e.id)\t\(e.role.rawValue)\t\(e.name)\tcreated \(e.created)\texpires \(expiry)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id (see `tokens list`).")
        @Argument(help: "The token id (8 hex digits).") var id: String
        @Option(help: "Tokens file.") var tokens = "./millstream-tokens.json"

        func run() async throws {
            guard try TokenStore(path: tokens).revoke(id: id) else {
                throw CommandError("no token with id \(id) in \(tokens)")
            }
            print("revoked \(id)")
        }
    }
}

func parseRole(_ text: String) throws -> Role {
    do { return try Role(parsing: text) } catch { throw ValidationError("--role: \(error)") }
}
