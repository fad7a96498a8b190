//! Workflows edited through the API: in force at once, listed as edited,
//! validated, reverted, audited; only admins and operators may edit.

use super::*;

fn put(path: &str, key: &str, body: &str) -> Request<Full<Bytes>> {
    req("PUT", path, &[("apikey", key)], body.as_bytes())
}

#[tokio::test]
async fn an_edited_workflow_is_in_force_at_once_and_can_be_reverted() {
    let (api, _) = api_with(
        r#"api_keys = ["k"]
        [[workflows]]
        name = "File scan"
        max_file_size = 1000"#,
    );
    let k = [("apikey", "k")];
    assert_eq!(
        send(&api, upload(&[7u8; 100], &k)).await.status,
        StatusCode::OK
    );

    // Shrink the upload cap: the next upload is refused.
    let r = send(
        &api,
        put(
            "/admin/config/rule/file%20scan",
            "k",
            r#"{"max_file_size": 50, "passwords": ["infected"]}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.json()["max_file_size"], 50);
    assert_eq!(r.json()["edited"], true);
    assert_eq!(r.json()["passwords"], 1, "counted, not shown");
    assert_eq!(r.json()["name"], "File scan", "the config's name is kept");
    assert_eq!(
        send(&api, upload(&[7u8; 100], &k)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let list = send(&api, req("GET", "/admin/config/rule", &k, b""))
        .await
        .json();
    assert_eq!(list[0]["max_file_size"], 50);
    assert!(
        !String::from_utf8_lossy(
            &send(&api, req("GET", "/admin/config/rule", &k, b""))
                .await
                .body
        )
        .contains("infected")
    );

    // A new workflow, listed for clients too.
    let r = send(
        &api,
        put(
            "/admin/config/rule/Mail",
            "k",
            r#"{"block_codes": [1, 2], "max_depth": 2}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let rules = send(&api, req("GET", "/file/rules", &k, b"")).await.json();
    let names: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["File scan", "Mail"]);

    // Bad edits are refused and change nothing.
    for bad in [
        r#"{"timeout_secs": 0}"#,
        r#"{"block_codes": [200]}"#,
        r#"{"max_depth": "deep"}"#,
        r#"{"no_such_field": 1}"#,
        "not json",
    ] {
        let r = send(&api, put("/admin/config/rule/Mail", "k", bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let mail = send(&api, req("GET", "/admin/config/rule", &k, b""))
        .await
        .json();
    assert_eq!(mail[1]["max_depth"], 2);

    // Reverting brings the config file's back; a workflow made through
    // the API goes away.
    let r = send(
        &api,
        req("DELETE", "/admin/config/rule/File%20scan", &k, b""),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        send(&api, upload(&[7u8; 100], &k)).await.status,
        StatusCode::OK
    );
    let r = send(&api, req("DELETE", "/admin/config/rule/Mail", &k, b"")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&api, req("DELETE", "/admin/config/rule/Mail", &k, b"")).await;
    assert_eq!(r.json()["Mail"], "Not Found");
    let list = send(&api, req("GET", "/admin/config/rule", &k, b""))
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["edited"], false);

    // Every edit is audited.
    let log = send(
        &api,
        req("GET", "/admin/audit?action=workflow%20update", &k, b""),
    )
    .await
    .json();
    let outcomes: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 2, "{log}");
    assert_eq!(outcomes.iter().filter(|o| **o == "400").count(), 5, "{log}");
}
