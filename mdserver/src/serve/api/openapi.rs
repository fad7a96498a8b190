//! `GET /openapi.json`: an OpenAPI 3.1 description of the whole API.
//!
//! Written here beside the router and checked against it by a test (every
//! route `dispatch` matches is described, nothing else is), and by
//! schemathesis in CI against a live server (no 5xx, every answer matches
//! its schema).

use serde_json::{Value, json};

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn path_param(name: &str, about: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": about,
           "schema": {"type": "string", "minLength": 1}})
}

fn query(name: &str, schema: Value, about: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": about, "schema": schema})
}

fn header(name: &str, about: &str) -> Value {
    json!({"name": name, "in": "header", "required": false, "description": about,
           "schema": {"type": "string"}})
}

/// A JSON answer with `schema` on 200, and the error document otherwise.
fn answers(schema: Value) -> Value {
    json!({
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "default": {"description": "An error", "content": {"application/json": {"schema": r("Error")}}},
    })
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn op(tag: &str, summary: &str, params: Vec<Value>, responses: Value) -> Value {
    json!({"tags": [tag], "summary": summary, "parameters": params, "responses": responses})
}

fn with_body(mut o: Value, body: Value) -> Value {
    if let Some(m) = o.as_object_mut() {
        m.insert("requestBody".into(), body);
    }
    o
}

fn public(mut o: Value) -> Value {
    if let Some(m) = o.as_object_mut() {
        m.insert("security".into(), json!([]));
    }
    o
}

fn upload_headers() -> Vec<Value> {
    vec![
        header("filename", "The file's name (URL-encoded)"),
        header("rule", "The workflow to use (also `workflow`)"),
        header(
            "user_agent",
            "The client's agent, for workflows limited to some",
        ),
        header(
            "archivepwd1",
            "A password for encrypted archives (archivepwd2, … too)",
        ),
        header("batch", "A batch to add the file to"),
        header("callbackurl", "A URL the result is POSTed to"),
        header("metadata", "Opaque text kept with the scan"),
    ]
}

fn upload_body() -> Value {
    json!({"required": true, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}}}}
    }})
}

fn text_or_json(text_type: &str, schema: Value) -> Value {
    json!({
        "200": {"description": "OK", "content": {
            "application/json": {"schema": schema},
            text_type: {"schema": {"type": "string"}}
        }},
        "default": {"description": "An error", "content": {"application/json": {"schema": r("Error")}}},
    })
}

fn schemas() -> Value {
    let mut s = schemas_a();
    if let Some(m) = s.as_object_mut() {
        // Past what one json! literal may hold (the macro's recursion).
        m.insert(
            "Reload".into(),
            json!({"type": "object", "required": ["reload", "engines"], "properties": {
                "reload": {"type": "integer", "minimum": 0},
                "engines": {"type": "array", "items": r("Engine")}}}),
        );
    }
    s
}

fn schemas_a() -> Value {
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    json!({
        "Error": obj(json!({"err": {"type": "string"}}), &["err"]),
        "NotFound": {"type": "object", "description": "`{\"<id>\": \"Not Found\"}`: no such id, or not the caller's",
            "minProperties": 1, "maxProperties": 1, "additionalProperties": {"type": "string", "const": "Not Found"}},
        "DataId": obj(json!({"data_id": {"type": "string"}}), &["data_id"]),
        "Result": obj(json!({
            "data_id": {"type": "string"},
            "file_info": {"type": "object"},
            "scan_results": obj(json!({
                "progress_percentage": {"type": "integer"},
                "scan_all_result_i": {"type": "integer"},
                "scan_all_result_a": {"type": "string"},
                "scan_details": {"type": "object"}
            }), &["progress_percentage", "scan_all_result_i", "scan_all_result_a"]),
            "process_info": obj(json!({
                "result": {"type": "string"},
                "progress_percentage": {"type": "integer"},
                "post_processing": {"type": "object"}
            }), &["result", "progress_percentage"]),
            "extracted_files": {"type": "object"},
            "mdscan": {"type": "object"}
        }), &["data_id", "file_info", "scan_results", "process_info"]),
        "ResultOrNotFound": {"anyOf": [r("Result"), r("NotFound")]},
        "Batch": obj(json!({"batch_id": {"type": "string"}}), &["batch_id"]),
        "BatchReport": {"type": "object", "properties": {"batch_id": {"type": "string"},
            "batch_files": {"type": "object"}, "process_info": {"type": "object"}}},
        "BatchOrNotFound": {"anyOf": [r("BatchReport"), r("NotFound")]},
        "Cancelled": {"type": "object", "additionalProperties": {"type": "string"}},
        "Workflow": obj(json!({"name": {"type": "string"}, "max_file_size": {"type": "integer"},
            "block_codes": {"type": "array", "items": {"type": "integer"}}}), &["name"]),
        "WorkflowEdit": {"type": "object", "additionalProperties": false, "properties": {
            "max_file_size": {"type": "integer", "minimum": 1}, "extract": {"type": "boolean"},
            "max_depth": {"type": "integer", "minimum": 0, "maximum": 1000}, "max_files": {"type": "integer", "minimum": 1},
            "max_size": {"type": "integer", "minimum": 1}, "max_object_size": {"type": "integer", "minimum": 1},
            "max_ratio": {"type": "integer", "minimum": 1}, "timeout_secs": {"type": "integer", "minimum": 1, "maximum": 86400},
            "block_codes": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
            "user_agents": {"type": "array", "items": {"type": "string"}},
            "passwords": {"type": "array", "items": {"type": "string"}}}},
        "WorkflowLimits": obj(json!({"name": {"type": "string"}, "max_file_size": {"type": "integer"},
            "extract": {"type": "boolean"}, "max_depth": {"type": "integer"}, "max_files": {"type": "integer"},
            "max_size": {"type": "integer"}, "max_object_size": {"type": "integer"}, "max_ratio": {"type": "integer"},
            "timeout_secs": {"type": "integer"}, "passwords": {"type": "integer"}, "edited": {"type": "boolean"},
            "block_codes": {"type": "array", "items": {"type": "integer"}},
            "user_agents": {"type": "array", "items": {"type": "string"}}}), &["name"]),
        "Engine": obj(json!({"eng_id": {"type": "string"}, "eng_name": {"type": "string"},
            "eng_ver": {"type": "string"}, "def_time": {"type": "string"}, "active": {"type": "boolean"}}),
            &["eng_id", "eng_name"]),
        "Nodes": obj(json!({"statuses": {"type": "array", "items": {"type": "object"}}}), &["statuses"]),
        "HistoryRow": obj(json!({"data_id": {"type": "string"}, "display_name": {"type": "string"},
            "file_size": {"type": "integer"}, "upload_ms": {"type": "integer"},
            "user": {"type": ["string", "null"]}, "scan_all_result_i": {"type": "integer"},
            "scan_all_result_a": {"type": "string"},
            "result": {"type": "string", "enum": ["Processing", "Blocked", "Allowed"]},
            "threats": {"type": "array", "items": {"type": "string"}},
            "processing_ms": {"type": ["integer", "null"]}, "queue_ms": {"type": ["integer", "null"]}}),
            &["data_id", "display_name", "result", "scan_all_result_i"]),
        "History": obj(json!({"scans": {"type": "array", "items": r("HistoryRow")},
            "first": {"type": "integer"}, "size": {"type": "integer"},
            "more": {"type": "boolean"}, "truncated": {"type": "boolean"}}), &["scans", "more", "truncated"]),
        "Report": obj(json!({"total": {"type": "integer"}, "blocked": {"type": "integer"},
            "allowed": {"type": "integer"}, "processing": {"type": "integer"},
            "by_verdict": {"type": "object", "additionalProperties": {"type": "integer"}},
            "top_threats": {"type": "array", "items": obj(json!({"threat": {"type": "string"}, "count": {"type": "integer"}}), &["threat", "count"])},
            "latency_ms": {"type": "object", "additionalProperties": {"type": ["integer", "null"]}},
            "throughput": {"type": "array", "items": {"type": "object"}},
            "truncated": {"type": "boolean"}}), &["total", "blocked", "allowed", "by_verdict", "top_threats", "throughput"]),
        "AuditEvent": obj(json!({"time_ms": {"type": "integer"}, "user": {"type": ["string", "null"]},
            "address": {"type": ["string", "null"]}, "action": {"type": "string"},
            "target": {"type": ["string", "null"]}, "outcome": {"type": "string"}}), &["time_ms", "action", "outcome"]),
        "Audit": obj(json!({"events": {"type": "array", "items": r("AuditEvent")}}), &["events"]),
        "Role": obj(json!({"id": {"type": "string"}, "name": {"type": "string"},
            "display_name": {"type": "string"}, "editable": {"type": "boolean"},
            "rights": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}),
            &["id", "name", "rights"]),
        "RoleOrNotFound": {"anyOf": [r("Role"), r("NotFound")]},
        "ApiKeyOrNotFound": {"anyOf": [r("ApiKey"), r("NotFound")]},
        "ApiKey": obj(json!({"id": {"type": "string"}, "user": {"type": "string"}, "name": {"type": "string"},
            "created": {"type": "string"}, "expires": {"type": ["string", "null"]}, "expired": {"type": "boolean"},
            "apikey": {"type": "string", "description": "The secret: only in the answer that made the key"}}),
            &["id", "user", "created"]),
        "User": obj(json!({"id": {"type": "string"}, "name": {"type": "string"},
            "display_name": {"type": "string"}, "email": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}}, "role": {"type": "string"},
            "directory": {"type": "string"}, "editable": {"type": "boolean"},
            "api_keys": {"type": "array", "items": r("ApiKey")}}), &["name", "roles"]),
        "UserOrNotFound": {"anyOf": [r("User"), r("NotFound")]},
        "NewUser": obj(json!({"name": {"type": "string"}, "password": {"type": "string"},
            "display_name": {"type": "string"}, "email": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}}, "role": {"type": "string"}}),
            &["name", "password"]),
        "UserChange": {"type": "object", "properties": {"display_name": {"type": "string"},
            "email": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}},
            "role": {"type": "string"}, "password": {"type": "string"}}},
        "NewKey": {"type": "object", "properties": {"name": {"type": "string"},
            "expires": {"type": ["string", "integer"]}, "expires_in_days": {"type": "integer"}}},
        "Me": obj(json!({"name": {"type": ["string", "null"]}, "role": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}}, "rights": {"type": "object"},
            "open": {"type": "boolean"}}), &["role", "rights"]),
        "Response": obj(json!({"response": {"type": "string"}}), &["response"]),
        "ResponseOrNotFound": {"anyOf": [r("Response"), r("NotFound")]},
        "Drain": obj(json!({"node": {"type": "string"}, "draining": {"type": "boolean"}}), &["node", "draining"]),
        "Ready": obj(json!({"status": {"type": "string"}, "details": {"type": "object"}}), &["status"]),
        "Session": obj(json!({"session_id": {"type": "string"}}), &["session_id"]),
        "Login": obj(json!({"user": {"type": "string"}, "password": {"type": "string"}}), &["user", "password"]),
        "PasswordChange": obj(json!({"old_password": {"type": "string"}, "new_password": {"type": "string"}}),
            &["old_password", "new_password"]),
        "Version": obj(json!({"version": {"type": "string"}, "product_id": {"type": "string"}}), &["version"])
    })
}

/// The document.
pub(crate) fn document() -> Value {
    let id = || {
        path_param(
            "data_id",
            "A data_id (a submitted file or an object inside one)",
        )
    };
    let paging = || {
        vec![
            query(
                "first",
                json!({"type": "integer", "minimum": 0}),
                "Index of the first item",
            ),
            query(
                "size",
                json!({"type": "integer", "minimum": 1}),
                "Items per page",
            ),
        ]
    };
    let period = || {
        vec![
            query(
                "from",
                json!({"type": "integer", "minimum": 0}),
                "Milliseconds since the epoch",
            ),
            query(
                "to",
                json!({"type": "integer", "minimum": 0}),
                "Milliseconds since the epoch",
            ),
        ]
    };
    let list = |s: &str| json!({"type": "array", "items": r(s)});
    let mut history_params = vec![
        query(
            "q",
            json!({"type": "string"}),
            "A name fragment, or an md5/sha1/sha256/data_id",
        ),
        query(
            "result",
            json!({"type": "string", "enum": ["blocked", "allowed", "processing"]}),
            "Verdict",
        ),
        query(
            "code",
            json!({"type": "integer", "minimum": 0, "maximum": 255}),
            "Result code",
        ),
        query("user", json!({"type": "string"}), "Owner"),
    ];
    history_params.extend(period());
    history_params.extend(paging());
    let mut report_params = period();
    report_params.push(query(
        "bucket",
        json!({"type": "integer", "minimum": 60000}),
        "Series step, ms",
    ));
    report_params.push(query(
        "format",
        json!({"type": "string", "enum": ["json", "csv"]}),
        "CSV on `csv`",
    ));
    let mut audit_params = period();
    audit_params.extend([
        query("user", json!({"type": "string"}), "Who"),
        query(
            "action",
            json!({"type": "string"}),
            "login, download, key create, …",
        ),
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 10000}),
            "Most entries",
        ),
        query(
            "format",
            json!({"type": "string", "enum": ["json", "csv"]}),
            "CSV on `csv`",
        ),
    ]);
    let upload = |summary: &str, ok: Value| {
        with_body(
            op("Scan", summary, upload_headers(), answers(ok)),
            upload_body(),
        )
    };
    let mut put_named = upload_headers();
    put_named.push(path_param("id", "The file's name"));
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mdscan",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The MetaDefender Core v4 compatible API of mdscan (`serve` and `gateway`), with its identity, history, report and admin endpoints. Authenticate with an API key or a session id from POST /login in the `apikey` header.",
            "license": {"name": "See the repository"}
        },
        "components": {
            "securitySchemes": {
                "apikey": {"type": "apiKey", "in": "header", "name": "apikey"},
                "bearer": {"type": "http", "scheme": "bearer"}
            },
            "schemas": schemas()
        },
        "security": [{"apikey": []}, {"bearer": []}],
    });
    let mut paths = serde_json::Map::new();
    paths.insert("/openapi.json".into(), json!({"get": public(op("Meta", "This document", vec![], answers(json!({"type": "object"}))))}));
    paths.insert("/readyz".into(), json!({"get": public(op("Meta", "Readiness", vec![query("verbose", json!({"type": "string", "enum": ["true", "false"]}), "With details")],
                json!({"200": {"description": "Ready", "content": {"application/json": {"schema": r("Ready")}}},
                       "503": {"description": "Not ready", "content": {"application/json": {"schema": r("Ready")}}}})))}));
    paths.insert("/login".into(), json!({"post": public(with_body(op("Identity", "Sign in: a session id to use as `apikey`", vec![], answers(r("Session"))), json_body(r("Login"))))}));
    paths.insert("/logout".into(), json!({"post": op("Identity", "Ends the session in `apikey`", vec![], answers(r("Response")))}));
    paths.insert(
        "/version".into(),
        json!({"get": op("Meta", "Product and version", vec![], answers(r("Version")))}),
    );
    paths.insert(
        "/apiversion".into(),
        json!({"get": op("Meta", "API version", vec![], answers(r("Version")))}),
    );
    paths.insert(
        "/file".into(),
        json!({
            "post": upload("Submit a file (raw body or multipart)", r("DataId")),
            "put": upload("Submit a file (curl -T)", r("DataId"))
        }),
    );
    paths.insert("/file/sync".into(), json!({"post": upload("Submit and wait for the result (up to sync_timeout_secs)", r("Result"))}));
    paths.insert("/file/{id}".into(), json!({
                "get": op("Scan", "The result of a file or of an object inside one", [vec![path_param("id", "A data_id")], paging()].concat(), answers(r("ResultOrNotFound"))),
                "put": with_body(op("Scan", "Submit a file under a name", put_named, answers(r("DataId"))), upload_body())
            }));
    paths.insert("/file/{id}/cancel".into(), json!({"post": op("Scan", "Cancel a scan or a batch", vec![path_param("id", "A data_id or batch id")], answers(r("Cancelled")))}));
    paths.insert("/file/download/{data_id}".into(), json!({"get": op("Scan", "The submitted file (Range supported)", vec![id()],
                json!({"200": {"description": "The file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                       "206": {"description": "Part of the file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                       "default": {"description": "An error", "content": {"application/json": {"schema": r("Error")}}}}))}));
    paths.insert("/file/converted/{data_id}".into(), json!({"get": op("Scan", "The sanitized file (not produced yet: 404)", vec![id()],
                json!({"200": {"description": "The file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                       "default": {"description": "An error", "content": {"application/json": {"schema": r("Error")}}}}))}));
    paths.insert("/hash/{hash}".into(), json!({"get": op("Scan", "The latest result of an object with this digest", [vec![path_param("hash", "md5, sha1 or sha256")], paging()].concat(), answers(r("ResultOrNotFound")))}));
    paths.insert("/file/rules".into(), json!({"get": op("Workflows", "Workflows this client may use", vec![header("user_agent", "The client's agent")], answers(list("Workflow")))}));
    paths.insert("/admin/config/rule".into(), json!({"get": op("Workflows", "Every workflow in force with its limits", vec![], answers(list("WorkflowLimits")))}));
    paths.insert(
        "/admin/config/rule/{name}".into(),
        json!({
            "put": with_body(op("Workflows", "Edit a workflow (or make one); in force at once, durable", vec![path_param("name", "Workflow name")], answers(r("WorkflowLimits"))), json_body(r("WorkflowEdit"))),
            "delete": op("Workflows", "Drop a workflow's edit", vec![path_param("name", "Workflow name")], answers(r("ResponseOrNotFound")))
        }),
    );
    paths.insert("/file/batch".into(), json!({"post": op("Batch", "Open a batch", vec![header("rule", "Workflow"), header("user_agent", "Client agent"), header("user-data", "Opaque text")], answers(r("Batch")))}));
    paths.insert("/file/batch/{batch_id}".into(), json!({"get": op("Batch", "A batch's report", [vec![path_param("batch_id", "Batch id")], paging()].concat(), answers(r("BatchOrNotFound")))}));
    paths.insert("/file/batch/{batch_id}/close".into(), json!({"post": op("Batch", "Close a batch", vec![path_param("batch_id", "Batch id")], answers(r("BatchOrNotFound")))}));
    paths.insert("/file/batch/{batch_id}/cancel".into(), json!({"post": op("Batch", "Cancel a batch", vec![path_param("batch_id", "Batch id")], answers(r("Cancelled")))}));
    paths.insert(
        "/stat/engines".into(),
        json!({"get": op("Status", "Engines", vec![], answers(list("Engine")))}),
    );
    paths.insert("/stat/nodes".into(), json!({"get": op("Status", "Nodes (this server, or the cluster's workers)", vec![], answers(r("Nodes")))}));
    paths.insert("/stat/history".into(), json!({"get": op("Status", "Scan history, newest first", history_params, answers(r("History")))}));
    paths.insert("/stat/report".into(), json!({"get": op("Status", "Executive report of a period", report_params, text_or_json("text/csv", r("Report")))}));
    paths.insert("/metrics".into(), json!({"get": op("Status", "Prometheus metrics", vec![],
                json!({"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}},
                       "application/openmetrics-text": {"schema": {"type": "string"}}}},
                       "default": {"description": "An error", "content": {"application/json": {"schema": r("Error")}}}}))}));
    paths.insert("/admin/audit".into(), json!({"get": op("Admin", "The audit log, newest first", audit_params, text_or_json("text/csv", r("Audit")))}));
    paths.insert("/admin/engine/reload".into(), json!({"post": op("Admin", "Read the YARA rules and hash lists again (a cluster's workers follow within a heartbeat)", vec![], answers(r("Reload")))}));
    paths.insert("/admin/node/{node}/drain".into(), json!({"post": op("Admin", "Drain a worker", vec![path_param("node", "Worker id")], answers(r("Drain")))}));
    paths.insert(
        "/user".into(),
        json!({"get": op("Identity", "The caller, role and rights", vec![], answers(r("Me")))}),
    );
    paths.insert("/user/changepassword".into(), json!({"post": with_body(op("Identity", "Change one's password", vec![], answers(r("Response"))), json_body(r("PasswordChange")))}));
    paths.insert("/user/apikey".into(), json!({
                "get": op("Identity", "One's API keys (no secrets)", vec![], answers(list("ApiKey"))),
                "post": with_body(op("Identity", "Make an API key (the secret is in this answer only)", vec![], answers(r("ApiKey"))), json_body(r("NewKey")))
            }));
    paths.insert("/user/apikey/{id}".into(), json!({"delete": op("Identity", "Revoke one's key", vec![path_param("id", "Key id")], answers(r("ResponseOrNotFound")))}));
    paths.insert("/admin/apikey".into(), json!({"get": op("Identity", "Every API key (no secrets)", vec![], answers(list("ApiKey")))}));
    paths.insert("/admin/apikey/{id}".into(), json!({"delete": op("Identity", "Revoke any key", vec![path_param("id", "Key id")], answers(r("ResponseOrNotFound")))}));
    paths.insert("/admin/user".into(), json!({
                "get": op("Identity", "Users", vec![], answers(list("User"))),
                "post": with_body(op("Identity", "Make a user", vec![], answers(r("User"))), json_body(r("NewUser")))
            }));
    paths.insert("/admin/user/{name}".into(), json!({
                "get": op("Identity", "A user", vec![path_param("name", "User name")], answers(r("UserOrNotFound"))),
                "put": with_body(op("Identity", "Change a user", vec![path_param("name", "User name")], answers(r("UserOrNotFound"))), json_body(r("UserChange"))),
                "delete": op("Identity", "Delete a user and their keys", vec![path_param("name", "User name")], answers(r("ResponseOrNotFound")))
            }));
    paths.insert("/admin/user/{name}/apikey".into(), json!({"post": with_body(op("Identity", "Make a key for a user", vec![path_param("name", "User name")], answers(r("ApiKeyOrNotFound"))), json_body(r("NewKey")))}));
    paths.insert(
        "/admin/role".into(),
        json!({"get": op("Identity", "Roles and their rights", vec![], answers(list("Role")))}),
    );
    paths.insert("/admin/role/{id}".into(), json!({"get": op("Identity", "A role", vec![path_param("id", "Role id or name")], answers(r("RoleOrNotFound")))}));
    if let Some(m) = doc.as_object_mut() {
        m.insert("paths".into(), Value::Object(paths));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::document;

    /// Every `(method, path)` the router matches is described, and only
    /// those (besides the unauthenticated ones outside `dispatch`).
    #[test]
    fn the_document_describes_every_route_and_no_other() {
        let doc = document();
        let mut described = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let parts: Vec<&str> = path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| if s.starts_with('{') { "_" } else { s })
                    .collect();
                described.push(format!("{} {}", method.to_uppercase(), parts.join("/")));
            }
        }
        described
            .retain(|r| !["GET openapi.json", "GET readyz", "POST login"].contains(&r.as_str()));
        described.sort();
        assert_eq!(described, super::super::tests::routes());
        // Every reference resolves.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "no schema {name}");
        }
    }
}
