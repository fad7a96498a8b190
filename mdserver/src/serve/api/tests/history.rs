//! The scan history and the executive report.

use super::*;

fn get(path: &str, key: &str) -> Request<Full<Bytes>> {
    req("GET", path, &[("apikey", key)], b"")
}

#[tokio::test]
async fn the_history_searches_pages_and_hides_other_users_scans() {
    let hash = super::super::hash_password("pw").unwrap();
    let (api, fake) = api_with(&format!(
        r#"api_keys = ["admin-key"]
        [[users]]
        name = "ann"
        password_hash = "{hash}"
        [[users]]
        name = "aud"
        password_hash = "{hash}"
        role = "auditor""#
    ));
    let login = |u: &str| {
        req(
            "POST",
            "/login",
            &[],
            format!(r#"{{"user":"{u}","password":"pw"}}"#).as_bytes(),
        )
    };
    let ann = send(&api, login("ann")).await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let aud = send(&api, login("aud")).await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    // ann: a clean file and EICAR; the admin key: three more, one left
    // running.
    let mut ids = Vec::new();
    for (key, name, body) in [
        (ann.as_str(), "report.txt", &b"quarterly figures"[..]),
        (ann.as_str(), "eicar.com", EICAR),
        ("admin-key", "a1.txt", b"one"),
        ("admin-key", "a2.txt", b"two"),
        ("admin-key", "running.txt", b"three"),
    ] {
        let r = send(&api, upload(body, &[("apikey", key), ("filename", name)])).await;
        assert_eq!(r.status, StatusCode::OK);
        ids.push(r.json()["data_id"].as_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for id in &ids[..4] {
        fake.finish(id);
    }

    // Newest first; the running one says so.
    let all = send(&api, get("/stat/history", "admin-key")).await.json();
    let names: Vec<&str> = all["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["running.txt", "a2.txt", "a1.txt", "eicar.com", "report.txt"]
    );
    assert_eq!(all["scans"][0]["result"], "Processing");
    assert_eq!(all["scans"][0]["scan_all_result_i"], 255);
    assert_eq!(all["more"], false);

    // Paging.
    let p = send(&api, get("/stat/history?first=1&size=2", "admin-key"))
        .await
        .json();
    assert_eq!(p["scans"].as_array().unwrap().len(), 2);
    assert_eq!(p["scans"][0]["display_name"], "a2.txt");
    assert_eq!(p["more"], true);

    // By verdict, code, name, hash, user.
    let blocked = send(&api, get("/stat/history?result=blocked", "admin-key"))
        .await
        .json();
    assert_eq!(blocked["scans"].as_array().unwrap().len(), 1);
    assert_eq!(blocked["scans"][0]["display_name"], "eicar.com");
    assert_eq!(blocked["scans"][0]["user"], "ann");
    assert!(
        blocked["scans"][0]["threats"][0]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("eicar")
    );
    let infected = send(&api, get("/stat/history?code=1", "admin-key"))
        .await
        .json();
    assert_eq!(infected["scans"].as_array().unwrap().len(), 1);
    let by_name = send(&api, get("/stat/history?q=A2.TXT", "admin-key"))
        .await
        .json();
    assert_eq!(by_name["scans"][0]["data_id"], ids[3].as_str());
    let sha = blocked["scans"][0]["sha256"].as_str().unwrap().to_string();
    let by_hash = send(&api, get(&format!("/stat/history?q={sha}"), "admin-key"))
        .await
        .json();
    assert_eq!(by_hash["scans"][0]["display_name"], "eicar.com");
    let by_user = send(&api, get("/stat/history?user=ann", "admin-key"))
        .await
        .json();
    assert_eq!(by_user["scans"].as_array().unwrap().len(), 2);
    let r = send(&api, get("/stat/history?result=maybe", "admin-key")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A period.
    let upload_ms = all["scans"][2]["upload_ms"].as_u64().unwrap();
    let window = send(
        &api,
        get(
            &format!("/stat/history?from={upload_ms}&to={upload_ms}"),
            "admin-key",
        ),
    )
    .await
    .json();
    assert_eq!(window["scans"].as_array().unwrap().len(), 1);
    assert_eq!(window["scans"][0]["display_name"], "a1.txt");

    // A user sees their own only, whatever they ask; an auditor all.
    let mine = send(&api, get("/stat/history?user=", &ann)).await.json();
    assert_eq!(mine["scans"].as_array().unwrap().len(), 2);
    let theirs = send(&api, get("/stat/history?q=a1.txt", &ann)).await.json();
    assert_eq!(theirs["scans"].as_array().unwrap().len(), 0);
    let audited = send(&api, get("/stat/history", &aud)).await.json();
    assert_eq!(audited["scans"].as_array().unwrap().len(), 5);

    // The report of the period: counts, threats, latency, throughput.
    let rep = send(&api, get("/stat/report", "admin-key")).await.json();
    assert_eq!(rep["total"], 5);
    assert_eq!(rep["blocked"], 1);
    assert_eq!(rep["allowed"], 3);
    assert_eq!(rep["processing"], 1);
    assert_eq!(rep["by_verdict"]["Infected"], 1, "{rep}");
    assert_eq!(rep["by_verdict"]["No Threat Detected"], 3, "{rep}");
    assert_eq!(rep["top_threats"][0]["count"], 1);
    assert!(rep["latency_ms"]["p50"].is_u64(), "{rep}");
    let files: u64 = rep["throughput"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["files"].as_u64().unwrap())
        .sum();
    assert_eq!(files, 5);
    assert_eq!(
        rep["throughput"].as_array().unwrap().len(),
        25,
        "24 h by the hour"
    );
    let own = send(&api, get("/stat/report", &ann)).await.json();
    assert_eq!(own["total"], 2);
    let csv = send(&api, get("/stat/report?format=csv", "admin-key")).await;
    let text = String::from_utf8_lossy(&csv.body).to_string();
    assert!(text.starts_with("section,name,value\n"), "{text}");
    assert!(text.contains("summary,total,5\n"), "{text}");
    assert!(text.contains("verdict,Infected,1\n"), "{text}");
    let r = send(&api, get("/stat/report?from=10&to=5", "admin-key")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
