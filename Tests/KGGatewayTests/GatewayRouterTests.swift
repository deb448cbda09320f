import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import XCTest

@testable import KGGateway

/// What the gateway refuses before it needs a database or a broker, answered by its whole application in
/// process (``RouterTestGateway``): authentication header forms, login bodies, content types, declared
/// lengths, JSON bodies, upload ids, roles. Each asserts the status and the message a client shows.
final class GatewayRouterTests: XCTestCase {
    // MARK: - Before authentication (the real AuthMiddleware)

    func testMissingAndMalformedAuthorizationAreRefusedWithoutTheDatabase() async throws {
        try await RouterTestGateway.run { client in
            let missing = try await client.execute(uri: "/jobs", method: .get)
            XCTAssertEqual(missing.status, .unauthorized)
            XCTAssertEqual(missing.headers[.wwwAuthenticate], "Bearer")
            XCTAssertEqual(try missing.apiError(), "not authenticated")
            let advice = try missing.apiDetail()
            XCTAssertTrue(advice.contains("send Authorization: Bearer <token>"), advice)
            for header in ["Basic YW5hOnNlY3JldA==", "Bearer", "Token abc", "bearer"] {
                let response = try await client.execute(uri: "/jobs", method: .get, headers: [.authorization: header])
                try response.assertAPIError(.unauthorized, detail: "the Authorization header must be `Bearer <token>`", note: header)
            }
            let long = try await client.execute(
                uri: "/jobs", method: .get, headers: [.authorization: "Bearer " + String(repeating: "a", count: 257)])
            try long.assertAPIError(.unauthorized, detail: "invalid token")
            // An upload without a token is refused from its headers: its body is never read.
            let upload = try await client.execute(
                uri: "/admin/restore", method: .post, headers: [.contentType: "multipart/form-data; boundary=x"],
                body: ByteBuffer(string: "--x\r\n"))
            XCTAssertEqual(upload.status, .unauthorized)
        }
    }

    func testAWellFormedTokenWithTheDatabaseAwayIsA503() async throws {
        try await RouterTestGateway.run { client in
            for header in ["Bearer 0123456789abcdef", "bearer 0123456789abcdef"] {
                let response = try await client.execute(uri: "/jobs", method: .get, headers: [.authorization: header])
                try response.assertAPIError(.serviceUnavailable, error: "database unavailable", note: header)
            }
        }
    }

    func testOpenPathsAnswerWithoutAToken() async throws {
        try await RouterTestGateway.run { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            XCTAssertEqual(health.status, .ok)
            XCTAssertEqual(String(buffer: health.body), "{\"status\":\"ok\"}")
            let ready = try await client.execute(uri: "/readyz", method: .get)
            XCTAssertEqual(ready.status, .serviceUnavailable)
            let body = try ready.jsonObject()
            XCTAssertEqual(body["status"] as? String, "not ready")
            XCTAssertEqual(body["database"] as? Bool, false)
            XCTAssertEqual(body["broker"] as? Bool, false)
        }
    }

    func testLoginBodiesAreCheckedBeforeAnyPasswordIs() async throws {
        try await RouterTestGateway.run { client in
            let notJSON = try await client.execute(uri: "/auth/token", method: .post, body: ByteBuffer(string: "username=ana"))
            try notJSON.assertAPIError(.badRequest, error: "invalid JSON body")
            let missing = try await client.execute(uri: "/auth/token", method: .post, body: ByteBuffer(string: #"{"username":"ana"}"#))
            try missing.assertAPIError(.badRequest, error: "invalid JSON body")
            let empty = try await client.execute(
                uri: "/auth/token", method: .post, body: ByteBuffer(string: #"{"username":"","password":"x"}"#))
            try empty.assertAPIError(.badRequest, error: "username and password are required")
            let nul = try await client.execute(
                uri: "/auth/token", method: .post, body: ByteBuffer(string: #"{"username":"admin\u0000x","password":"x"}"#))
            try nul.assertAPIError(.badRequest, detail: "username")
            let big = try await client.execute(
                uri: "/auth/token", method: .post,
                body: ByteBuffer(string: #"{"username":"ana","password":""# + String(repeating: "p", count: 17 * 1024) + #""}"#))
            try big.assertAPIError(.contentTooLarge, error: "request body too large")
        }
    }

    func testAnUnknownPathIs404() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.admin) { client in
            let response = try await client.execute(uri: "/admin/nothing-here", method: .get)
            XCTAssertEqual(response.status, .notFound)
        }
    }

    // MARK: - After authentication (a fixed user signed in)

    func testReadersAreRefusedAdminRoutes() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.reader) { client in
            for (method, uri) in [
                (HTTPRequest.Method.post, "/admin/backup"), (.post, "/admin/restore"), (.post, "/admin/stitch"),
                (.post, "/admin/restore/uploads"), (.delete, "/admin/restore/uploads/abc"),
            ] {
                let response = try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "{}"))
                try response.assertAPIError(.forbidden, detail: "bo has role reader; this needs the admin role", note: "\(method) \(uri)")
            }
        }
    }

    func testAPercentEncodedNULInThePathOrQueryIsRefused() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.admin) { client in
            let path = try await client.execute(uri: "/jobs/abc%00def", method: .get)
            try path.assertAPIError(.badRequest, detail: "path")
            let query = try await client.execute(uri: "/jobs?status=queued&id_prefix=ab%00", method: .get)
            try query.assertAPIError(.badRequest, detail: "id_prefix")
        }
    }

    func testJobListQueriesAreChecked() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.reader) { client in
            let status = try await client.execute(uri: "/jobs?status=sleeping", method: .get)
            try status.assertAPIError(.badRequest, error: "unknown status \"sleeping\"")
            for prefix in ["xyz", "", String(repeating: "a", count: 37)] {
                let response = try await client.execute(uri: "/jobs?id_prefix=\(prefix)", method: .get)
                try response.assertAPIError(.badRequest, error: "id_prefix must be the start of a job id: hex digits and dashes", note: prefix)
            }
        }
    }

    func testBackupRequestsAreChecked() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.admin) { client in
            let cases: [(String, String)] = [
                ("not json", "invalid JSON body"),
                (#"{"compression":"gzip"}"#, "invalid JSON body"),
                (#"{"backup_type":"partial"}"#, "unknown backup_type \"partial\""),
                (#"{"backup_type":"full","compression":"lz4"}"#, "unknown compression \"lz4\""),
                (#"{"backup_type":"ontology"}"#, "an ontology backup needs ontology_name"),
                (
                    #"{"backup_type":"ontology","ontology_name":"a\u0000b"}"#,
                    "the field ontology_name holds the character U+0000 (\\u0000), which is not allowed"
                ),
            ]
            for (body, message) in cases {
                let response = try await client.execute(uri: "/admin/backup", method: .post, body: ByteBuffer(string: body))
                try response.assertAPIError(.badRequest, error: message, note: body)
            }
            let big = try await client.execute(
                uri: "/admin/backup", method: .post, body: ByteBuffer(string: String(repeating: " ", count: 65 * 1024) + "{}"))
            XCTAssertEqual(big.status, .contentTooLarge)
        }
    }

    func testUploadsMustBeMultipartAndWithinTheDeclaredLimit() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.admin, maxUploadBytes: 1000) { client in
            for uri in ["/admin/restore", "/admin/backup/verify"] {
                for contentType in [nil, "application/json", "multipart/form-data", "text/plain; boundary=x"] {
                    var headers: HTTPFields = [:]
                    if let contentType { headers[.contentType] = contentType }
                    let response = try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: "{}"))
                    try response.assertAPIError(
                        .badRequest, error: "send the backup as multipart/form-data with a `file` part", note: "\(uri) \(contentType ?? "none")")
                }
                // Declared, not sent: the test client keeps a Content-Length only without a body, and the
                // refusal must come before any byte is read (reading this empty body would answer otherwise).
                let large = try await client.execute(
                    uri: uri, method: .post, headers: [.contentType: "multipart/form-data; boundary=x", .contentLength: "1001"])
                try large.assertAPIError(
                    .contentTooLarge, error: "the upload is larger than this gateway accepts", detail: "at most 1000 bytes (max_upload_bytes)",
                    note: uri)
            }
        }
    }

    func testVerifyIsOpenToReaders() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.reader) { client in
            let response = try await client.execute(uri: "/admin/backup/verify", method: .post, headers: [.contentType: "text/plain"])
            XCTAssertEqual(response.status, .badRequest, "a reader reaches the check of the request, not a 403")
        }
    }

    func testStitchRequestsAreCheckedBeforeTheyAreStored() async throws {
        let gateway = try RouterTestGateway(maxStitchBytes: 1000)
        let directory = gateway.storage.directory
        try await gateway.test(signedIn: RouterTestGateway.admin) { client in
            let gzip = try await client.execute(
                uri: "/admin/stitch", method: .post, headers: [.contentEncoding: "gzip"], body: ByteBuffer(string: "{}"))
            try gzip.assertAPIError(.unsupportedMediaType, error: "the stitch request must be plain JSON: Content-Encoding gzip is not accepted")
            // Declared, not sent (see testUploadsMustBeMultipartAndWithinTheDeclaredLimit).
            let large = try await client.execute(uri: "/admin/stitch", method: .post, headers: [.contentLength: "1001"])
            try large.assertAPIError(
                .contentTooLarge, error: "the stitch request is larger than this gateway accepts", detail: "at most 1000 bytes (max_stitch_bytes)")
            let bad = try await client.execute(uri: "/admin/stitch", method: .post, body: ByteBuffer(string: "{\"threshold\": }"))
            XCTAssertEqual(bad.status, .badRequest)
            let message = try bad.apiError()
            XCTAssertTrue(message.hasPrefix("the stitch request is not valid: "), message)
            let threshold = try await client.execute(uri: "/admin/stitch", method: .post, body: ByteBuffer(string: #"{"threshold": 1.5}"#))
            try threshold.assertAPIError(.badRequest, error: "threshold must be above 0 and at most 1, got 1.5")
            XCTAssertEqual(
                try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("stitch_") }, [],
                "a refused stitch request leaves no file")
        }
    }

    func testResumableUploadRequestsAreChecked() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.admin, maxUploadBytes: 1000) { client in
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("{", .badRequest, "invalid JSON body"),
                (#"{"file_name":"a.json"}"#, .badRequest, "invalid JSON body"),
                (#"{"size":0}"#, .badRequest, "size must be the upload's length in bytes (more than 0)"),
                (#"{"size":1001}"#, .contentTooLarge, "the upload is larger than this gateway accepts"),
                (
                    #"{"size":10,"file_name":"a\nb.json"}"#, .badRequest,
                    "file_name must be a plain file name (at most 255 bytes, no control characters)"
                ),
                (#"{"size":10,"mode":"overwrite"}"#, .badRequest, "unknown mode \"overwrite\""),
                (#"{"size":10,"external_deps":"ignore"}"#, .badRequest, "unknown external_deps \"ignore\""),
            ]
            for (body, status, message) in cases {
                let response = try await client.execute(uri: "/admin/restore/uploads", method: .post, body: ByteBuffer(string: body))
                try response.assertAPIError(status, error: message, note: body)
            }
        }
    }

    func testUploadIDsThatNameNoUploadAre404() async throws {
        try await RouterTestGateway.run(signedIn: RouterTestGateway.admin) { client in
            for id in ["..%2F..%2Fetc%2Fpasswd", "abc", "upload_x.json", String(repeating: "f", count: 300), UUID().uuidString.lowercased()] {
                for method in [HTTPRequest.Method.get, .delete, .patch] {
                    let response = try await client.execute(
                        uri: "/admin/restore/uploads/\(id)", method: method, headers: [HTTPField.Name("Upload-Offset")!: "0"], body: ByteBuffer())
                    try response.assertAPIError(.notFound, error: "no such upload", note: "\(method) \(id)")
                }
                let head = try await client.execute(uri: "/admin/restore/uploads/\(id)", method: .head)
                XCTAssertEqual(head.status, .notFound, "HEAD \(id)")
            }
        }
    }
}
