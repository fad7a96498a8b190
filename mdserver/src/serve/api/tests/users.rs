//! Identity: users, roles and API keys through the API, and every
//! endpoint answered for each role as its rights say.

use super::*;
use crate::serve::backend::now_ms;

/// Signs in and returns the session id.
async fn sign_in(api: &Arc<Api<Fake>>, user: &str, password: &str) -> String {
    let body = serde_json::json!({"user": user, "password": password}).to_string();
    let r = send(api, req("POST", "/login", &[], body.as_bytes())).await;
    assert_eq!(r.status, StatusCode::OK, "login {user}: {:?}", r.body);
    r.json()["session_id"].as_str().unwrap().to_string()
}

fn post_json(path: &str, key: &str, v: &Value) -> Request<Full<Bytes>> {
    req(
        "POST",
        path,
        &[("apikey", key), ("content-type", "application/json")],
        v.to_string().as_bytes(),
    )
}

fn get(path: &str, key: &str) -> Request<Full<Bytes>> {
    req("GET", path, &[("apikey", key)], b"")
}

#[tokio::test]
async fn users_keys_and_passwords_through_the_api() {
    let hash = super::super::hash_password("root-password").unwrap();
    let (api, _) = api_with(&format!(
        r#"[[users]]
        name = "root"
        password_hash = "{hash}"
        admin = true"#
    ));
    let root = sign_in(&api, "root", "root-password").await;

    // Make an operator and a user; a taken name is a conflict, a short
    // password and an unknown role are refused.
    let mk = |name: &str, role: &str| {
        serde_json::json!({"name": name, "password": "password-1", "roles": [role],
            "display_name": format!("{name} display"), "email": format!("{name}@example.org")})
    };
    let r = send(&api, post_json("/admin/user", &root, &mk("olga", "2"))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.json()["role"], "operator");
    assert_eq!(r.json()["roles"], serde_json::json!(["2"]));
    assert!(!r.body.windows(6).any(|w| w == b"argon2"), "no hash shown");
    let r = send(&api, post_json("/admin/user", &root, &mk("ulf", "user"))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&api, post_json("/admin/user", &root, &mk("ulf", "3"))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = send(&api, post_json("/admin/user", &root, &mk("root", "3"))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a config user's name");
    let r = send(&api, post_json("/admin/user", &root, &mk("x", "9"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let short = serde_json::json!({"name": "y", "password": "short"});
    let r = send(&api, post_json("/admin/user", &root, &short)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The list holds the config user (read-only) and the new ones.
    let users = send(&api, get("/admin/user", &root)).await.json();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["root", "olga", "ulf"]);
    assert_eq!(users[0]["directory"], "config");
    assert_eq!(users[0]["editable"], false);
    assert_eq!(users[2]["email"], "ulf@example.org");
    let r = send(
        &api,
        req(
            "PUT",
            "/admin/user/root",
            &[("apikey", &root)],
            br#"{"role":"user"}"#,
        ),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "config users are read-only"
    );

    // A new user signs in, sees their role, makes a key and uses it.
    let ulf = sign_in(&api, "ulf", "password-1").await;
    let me = send(&api, get("/user", &ulf)).await.json();
    assert_eq!(me["role"], "user");
    assert_eq!(me["rights"]["users"], serde_json::json!([]));
    let r = send(
        &api,
        post_json("/user/apikey", &ulf, &serde_json::json!({"name": "ci"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let secret = r.json()["apikey"].as_str().unwrap().to_string();
    let key_id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64);
    let r = send(
        &api,
        upload(b"hello", &[("apikey", &secret), ("filename", "hello")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let data_id = r.json()["data_id"].as_str().unwrap().to_string();
    let r = send(&api, get(&format!("/file/{data_id}"), &secret)).await;
    assert_eq!(r.json()["file_info"]["display_name"], "hello");
    // Lists never hold the secret.
    for path in ["/user/apikey", "/admin/apikey", "/admin/user"] {
        let who = if path == "/user/apikey" { &ulf } else { &root };
        let r = send(&api, get(path, who)).await;
        assert_eq!(r.status, StatusCode::OK);
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert!(body.contains(&key_id), "{path}: {body}");
        assert!(!body.contains(&secret), "{path} shows the secret");
    }

    // A role change applies at once, to sessions and keys alike.
    let r = send(
        &api,
        req(
            "PUT",
            "/admin/user/ulf",
            &[("apikey", &root)],
            br#"{"roles":["4"]}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = send(&api, upload(b"again", &[("apikey", &secret)])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "auditors do not submit");
    assert_eq!(
        send(&api, get("/admin/audit", &ulf)).await.status,
        StatusCode::OK
    );

    // Another user cannot revoke ulf's key; ulf can.
    let olga = sign_in(&api, "olga", "password-1").await;
    let r = send(
        &api,
        req(
            "DELETE",
            &format!("/user/apikey/{key_id}"),
            &[("apikey", &olga)],
            b"",
        ),
    )
    .await;
    assert_eq!(r.json()[&key_id], "Not Found");
    let r = send(
        &api,
        req(
            "DELETE",
            &format!("/user/apikey/{key_id}"),
            &[("apikey", &ulf)],
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&api, get("/user", &secret)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a revoked key is refused");

    // Keys expire.
    let soon = now_ms() + 1500;
    let r = send(
        &api,
        post_json("/user/apikey", &ulf, &serde_json::json!({"expires": soon})),
    )
    .await;
    let short_lived = r.json()["apikey"].as_str().unwrap().to_string();
    assert_eq!(
        send(&api, get("/user", &short_lived)).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(
        send(&api, get("/user", &short_lived)).await.status,
        StatusCode::FORBIDDEN,
        "an expired key is refused"
    );
    let r = send(
        &api,
        post_json("/user/apikey", &ulf, &serde_json::json!({"expires": 1000})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an expiry in the past");

    // Password change: the old one must be right, and then only the new
    // one signs in.
    let change = |old: &str, new: &str| {
        post_json(
            "/user/changepassword",
            &ulf,
            &serde_json::json!({"old_password": old, "new_password": new}),
        )
    };
    assert_eq!(
        send(&api, change("wrong-one", "password-2")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&api, change("password-1", "pw")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&api, change("password-1", "password-2")).await.status,
        StatusCode::OK
    );
    let r = send(
        &api,
        req(
            "POST",
            "/login",
            &[],
            br#"{"user":"ulf","password":"password-1"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    sign_in(&api, "ulf", "password-2").await;
    // Config users change their password in the config.
    let r = send(
        &api,
        post_json(
            "/user/changepassword",
            &root,
            &serde_json::json!({"old_password": "root-password", "new_password": "password-3"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Deleting a user ends their sessions and keys.
    let r = send(
        &api,
        post_json("/user/apikey", &ulf, &serde_json::json!({})),
    )
    .await;
    let last_key = r.json()["apikey"].as_str().unwrap().to_string();
    let r = send(
        &api,
        req("DELETE", "/admin/user/ulf", &[("apikey", &root)], b""),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        send(&api, get("/user", &ulf)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&api, get("/user", &last_key)).await.status,
        StatusCode::FORBIDDEN
    );
    let keys = send(&api, get("/admin/apikey", &root)).await.json();
    assert_eq!(keys, serde_json::json!([]), "the user's keys went too");

    // Roles are listed as MetaDefender lists them.
    let roles = send(&api, get("/admin/role", &root)).await.json();
    assert_eq!(roles.as_array().unwrap().len(), 4);
    assert_eq!(roles[0]["name"], "admin");
    assert_eq!(roles[3]["rights"]["auditlog"], serde_json::json!(["read"]));
    let r = send(&api, get("/admin/role/2", &root)).await.json();
    assert_eq!(r["display_name"], "Operators");

    // Every change is in the audit log, with its target, and no secret.
    let log = send(&api, get("/admin/audit?limit=100", &root)).await;
    let text = String::from_utf8_lossy(&log.body).to_string();
    assert!(!text.contains(&secret) && !text.contains(&last_key));
    let events = log.json()["events"].as_array().unwrap().clone();
    let seen = |action: &str, target: &str, outcome: &str| {
        events.iter().any(|e| {
            e["action"] == action
                && e["target"].as_str().unwrap_or_default().contains(target)
                && e["outcome"] == outcome
        })
    };
    assert!(seen("user create", "olga", "ok"), "{events:?}");
    assert!(seen("user create", "", "409"));
    assert!(seen("user update", "ulf", "ok"));
    assert!(seen("user delete", "ulf", "ok"));
    assert!(seen("key create", &format!("ulf/{key_id}"), "ok"));
    assert!(seen("key revoke", &key_id, "ok"));
    assert!(seen("password change", "", "403"));
    assert!(seen("password change", "", "ok"));
}

#[tokio::test]
async fn the_first_user_closes_an_open_server_and_the_last_admin_stays() {
    let (api, _) = api_with("");
    // Open: anyone is an admin, with or without a key.
    assert_eq!(
        send(&api, req("GET", "/user", &[], b"")).await.json()["open"],
        true
    );
    let admin = serde_json::json!({"name": "ada", "password": "password-1", "role": "admin"});
    let r = send(&api, post_json("/admin/user", "anything", &admin)).await;
    assert_eq!(r.status, StatusCode::OK);
    // Now closed.
    for r in [
        req("GET", "/user", &[], b""),
        req("GET", "/user", &[("apikey", "anything")], b""),
        upload(b"x", &[]),
    ] {
        assert_eq!(send(&api, r).await.status, StatusCode::FORBIDDEN);
    }
    let ada = sign_in(&api, "ada", "password-1").await;
    assert_eq!(send(&api, get("/user", &ada)).await.json()["role"], "admin");
    // The only admin can neither be deleted nor demoted.
    let r = send(
        &api,
        req("DELETE", "/admin/user/ada", &[("apikey", &ada)], b""),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = send(
        &api,
        req(
            "PUT",
            "/admin/user/ada",
            &[("apikey", &ada)],
            br#"{"role":"user"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // With a second admin, the first may go.
    let bea = serde_json::json!({"name": "bea", "password": "password-1", "roles": ["1"]});
    assert_eq!(
        send(&api, post_json("/admin/user", &ada, &bea))
            .await
            .status,
        StatusCode::OK
    );
    let r = send(
        &api,
        req("DELETE", "/admin/user/ada", &[("apikey", &ada)], b""),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        send(&api, get("/user", &ada)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// What a role gets from an endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Gets {
    /// Anything but 403 and "Not Found".
    Yes,
    /// 403.
    Denied,
    /// The object is not shown: `{"<id>": "Not Found"}` or 404.
    Hidden,
}

#[tokio::test]
async fn every_endpoint_answers_each_role_as_its_rights_say() {
    use Gets::{Denied as D, Hidden as H, Yes as Y};
    let hash = super::super::hash_password("pw").unwrap();
    let mut toml = String::from("sync_timeout_secs = 1\n");
    for (name, role) in [
        ("adm", "admin"),
        ("ops", "operator"),
        ("usr", "user"),
        ("aud", "auditor"),
    ] {
        toml.push_str(&format!(
            "[[users]]\nname = \"{name}\"\npassword_hash = \"{hash}\"\nrole = \"{role}\"\n"
        ));
    }
    let (api, _) = api_with(&toml);
    let mut keys = Vec::new();
    for name in ["adm", "ops", "usr", "aud"] {
        keys.push(sign_in(&api, name, "pw").await);
    }
    let [adm, ops, usr, aud] = [&keys[0], &keys[1], &keys[2], &keys[3]];
    // A scan and a batch the operator owns.
    let r = send(&api, upload(EICAR, &[("apikey", ops)])).await;
    let data_id = r.json()["data_id"].as_str().unwrap().to_string();
    let sha = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(EICAR);
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let batch = send(&api, req("POST", "/file/batch", &[("apikey", ops)], b""))
        .await
        .json()["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Every role has a key of its own to list and revoke.
    let mut key_ids = Vec::new();
    for k in &keys {
        let r = send(&api, post_json("/user/apikey", k, &serde_json::json!({}))).await;
        key_ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    // ... and the user a second one, for the admin route to revoke.
    let r = send(&api, post_json("/user/apikey", usr, &serde_json::json!({}))).await;
    let spare = r.json()["id"].as_str().unwrap().to_string();
    let user_doc = r#"{"name":"newcomer","password":"password-1"}"#;
    // A workflow per role, for each to revert its own.
    for i in 0..4 {
        let r = send(
            &api,
            req(
                "PUT",
                &format!("/admin/config/rule/wf{i}"),
                &[("apikey", adm)],
                br#"{"max_depth": 4}"#,
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    // (method, route, path, body, [admin, operator, user, auditor]).
    // Routes that change state come after those that read it.
    let id = data_id.as_str();
    let b = batch.as_str();
    let matrix: Vec<(&str, &str, String, &str, [Gets; 4])> = vec![
        ("GET", "file/rules", "/file/rules".into(), "", [Y, Y, Y, Y]),
        (
            "GET",
            "admin/config/rule",
            "/admin/config/rule".into(),
            "",
            [Y, Y, Y, Y],
        ),
        ("GET", "file/_", format!("/file/{id}"), "", [Y, Y, H, Y]),
        ("GET", "hash/_", format!("/hash/{sha}"), "", [Y, Y, H, Y]),
        (
            "GET",
            "file/batch/_",
            format!("/file/batch/{b}"),
            "",
            [Y, Y, H, Y],
        ),
        (
            "GET",
            "file/converted/_",
            format!("/file/converted/{id}"),
            "",
            // The copy is a download: an auditor may not have it (a 404
            // for want of a copy counts as allowed, see below).
            [Y, Y, Y, D],
        ),
        (
            "GET",
            "file/download/_",
            format!("/file/download/{id}"),
            "",
            [Y, Y, H, D],
        ),
        (
            "GET",
            "stat/engines",
            "/stat/engines".into(),
            "",
            [Y, Y, Y, Y],
        ),
        ("GET", "stat/nodes", "/stat/nodes".into(), "", [Y, Y, Y, Y]),
        (
            "GET",
            "stat/history",
            "/stat/history".into(),
            "",
            [Y, Y, Y, Y],
        ),
        (
            "GET",
            "stat/report",
            "/stat/report".into(),
            "",
            [Y, Y, Y, Y],
        ),
        ("GET", "metrics", "/metrics".into(), "", [Y, Y, Y, Y]),
        ("GET", "version", "/version".into(), "", [Y, Y, Y, Y]),
        ("GET", "apiversion", "/apiversion".into(), "", [Y, Y, Y, Y]),
        ("GET", "user", "/user".into(), "", [Y, Y, Y, Y]),
        (
            "GET",
            "user/apikey",
            "/user/apikey".into(),
            "",
            [Y, Y, Y, Y],
        ),
        (
            "GET",
            "admin/audit",
            "/admin/audit".into(),
            "",
            [Y, D, D, Y],
        ),
        (
            "GET",
            "admin/apikey",
            "/admin/apikey".into(),
            "",
            [Y, D, D, D],
        ),
        ("GET", "admin/user", "/admin/user".into(), "", [Y, D, D, D]),
        (
            "GET",
            "admin/user/_",
            "/admin/user/usr".into(),
            "",
            [Y, D, D, D],
        ),
        ("GET", "admin/role", "/admin/role".into(), "", [Y, D, D, D]),
        (
            "GET",
            "admin/role/_",
            "/admin/role/1".into(),
            "",
            [Y, D, D, D],
        ),
        ("POST", "file", "/file".into(), "x", [Y, Y, Y, D]),
        ("PUT", "file", "/file".into(), "x", [Y, Y, Y, D]),
        ("PUT", "file/_", "/file/named.txt".into(), "x", [Y, Y, Y, D]),
        ("POST", "file/sync", "/file/sync".into(), "x", [Y, Y, Y, D]),
        ("POST", "file/batch", "/file/batch".into(), "", [Y, Y, Y, D]),
        (
            "POST",
            "user/apikey",
            "/user/apikey".into(),
            "{}",
            [Y, Y, Y, Y],
        ),
        (
            "POST",
            "user/changepassword",
            "/user/changepassword".into(),
            r#"{"old_password":"pw","new_password":"password-9"}"#,
            [Y, Y, Y, Y],
        ),
        (
            "POST",
            "admin/user",
            "/admin/user".into(),
            user_doc,
            [Y, D, D, D],
        ),
        (
            "PUT",
            "admin/user/_",
            "/admin/user/newcomer".into(),
            r#"{"email":"n@x"}"#,
            [Y, D, D, D],
        ),
        (
            "POST",
            "admin/user/_/apikey",
            "/admin/user/usr/apikey".into(),
            "{}",
            [Y, D, D, D],
        ),
        (
            "POST",
            "admin/node/_/drain",
            "/admin/node/w1/drain".into(),
            "",
            [Y, Y, D, D],
        ),
        (
            "POST",
            "admin/engine/reload",
            "/admin/engine/reload".into(),
            "",
            [Y, Y, D, D],
        ),
        (
            "PUT",
            "admin/config/rule/_",
            "/admin/config/rule/File%20scan".into(),
            r#"{"max_depth": 9}"#,
            [Y, Y, D, D],
        ),
        (
            "DELETE",
            "admin/config/rule/_",
            "/admin/config/rule/{wf}".into(),
            "",
            [Y, Y, D, D],
        ),
        (
            "POST",
            "file/batch/_/close",
            format!("/file/batch/{b}/close"),
            "",
            [Y, Y, H, D],
        ),
        (
            "POST",
            "file/batch/_/cancel",
            format!("/file/batch/{b}/cancel"),
            "",
            [Y, Y, H, D],
        ),
        (
            "POST",
            "file/_/cancel",
            format!("/file/{id}/cancel"),
            "",
            [Y, Y, H, D],
        ),
        (
            "DELETE",
            "admin/user/_",
            "/admin/user/newcomer".into(),
            "",
            [Y, D, D, D],
        ),
    ];
    let per_key: Vec<(&str, &str, String, &str, [Gets; 4])> = ["user/apikey", "admin/apikey"]
        .iter()
        .map(|r| {
            let admin_only = r.starts_with("admin");
            // Each role revokes its own key (admin-only route: only admin).
            (
                "DELETE",
                if admin_only {
                    "admin/apikey/_"
                } else {
                    "user/apikey/_"
                },
                format!("/{r}/{{own}}"),
                "",
                if admin_only {
                    [Y, D, D, D]
                } else {
                    [Y, Y, Y, Y]
                },
            )
        })
        .collect();

    // The matrix names every route (and logout and the open ones below).
    let mut named: Vec<String> = matrix
        .iter()
        .chain(per_key.iter())
        .map(|(m, r, ..)| format!("{m} {r}"))
        .collect();
    named.push("POST logout".into());
    named.sort();
    named.dedup();
    assert_eq!(named, super::routes(), "every route is in the matrix");

    let who = [adm, ops, usr, aud];
    let roles = ["admin", "operator", "user", "auditor"];
    for (method, route, path, body, want) in matrix.iter().chain(per_key.iter()) {
        // Deny and hide first, so a state change by an allowed role (a
        // cancel, a delete) does not decide what the others get.
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by_key(|i| want[*i] == Y);
        for i in order {
            let path = if path.contains("{own}") {
                // Each role's own key on the user route; the admin route
                // revokes the user's spare one.
                let id = if route.starts_with("admin") {
                    spare.clone()
                } else {
                    key_ids[i].clone()
                };
                path.replace("{own}", &id)
            } else {
                path.replace("{wf}", &format!("wf{i}"))
            };
            let mut h: Vec<(&str, &str)> = vec![("apikey", who[i].as_str())];
            let len = body.len().to_string();
            if !body.is_empty() {
                h.push(("content-length", &len));
            }
            let r = send(&api, req(method, &path, &h, body.as_bytes())).await;
            let hidden = r.status == StatusCode::NOT_FOUND
                || r.json()
                    .as_object()
                    .is_some_and(|o| o.values().any(|v| v == "Not Found"));
            let got = if r.status == StatusCode::FORBIDDEN {
                D
            } else if hidden && *route != "file/converted/_" {
                H
            } else {
                Y
            };
            assert_eq!(
                got,
                want[i],
                "{method} {path} as {}: {} {}",
                roles[i],
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
    }
    // Logout works for every role.
    for k in who {
        let r = send(&api, req("POST", "/logout", &[("apikey", k.as_str())], b"")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            send(&api, get("/user", k)).await.status,
            StatusCode::FORBIDDEN
        );
    }
}
