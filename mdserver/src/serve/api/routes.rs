//! The API's routes as data: one table, read by the router (which
//! endpoint a request reaches and whether it is audited), the OpenAPI
//! document's test (every route described, no other) and the role-matrix
//! test (every route checked for every role). A route is added here and nowhere else; the compiler then
//! asks for its handler in `dispatch` (the match on [`Ep`] is exhaustive).

/// An endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ep {
    ReadyZ,
    OpenApi,
    Login,
    Logout,
    Submit,
    SubmitSync,
    SubmitNamed,
    BatchOpen,
    Rules,
    WorkflowList,
    WorkflowPut,
    WorkflowDelete,
    BatchReport,
    BatchClose,
    BatchCancel,
    Converted,
    Download,
    Cancel,
    Result,
    ByHash,
    Engines,
    Nodes,
    History,
    Report,
    Metrics,
    Audit,
    Drain,
    Reload,
    Me,
    ChangePassword,
    MyKeys,
    CreateMyKey,
    RevokeMyKey,
    ListKeys,
    RevokeAnyKey,
    ListUsers,
    CreateUser,
    GetUser,
    UpdateUser,
    DeleteUser,
    CreateUserKey,
    Roles,
    Role,
    Version,
    ApiVersion,
}

/// One route: a method, a path (`{name}` segments are parameters) and the
/// endpoint it reaches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) ep: Ep,
    /// Served without an API key or session.
    pub(crate) public: bool,
    /// The audit log's action for it (its target: the first path
    /// parameter); `None`: not audited.
    pub(crate) audit: Option<&'static str>,
}

impl Route {
    const fn audited(self, action: &'static str) -> Route {
        Route {
            audit: Some(action),
            ..self
        }
    }

    const fn public(self) -> Route {
        Route {
            public: true,
            ..self
        }
    }
}

const fn r(method: &'static str, path: &'static str, ep: Ep) -> Route {
    Route {
        method,
        path,
        ep,
        public: false,
        audit: None,
    }
}

/// Every route, tried in this order (the first match wins: `/file/rules`
/// before `/file/{id}`).
pub(crate) const ROUTES: &[Route] = &[
    r("GET", "/readyz", Ep::ReadyZ).public(),
    r("GET", "/openapi.json", Ep::OpenApi).public(),
    r("POST", "/login", Ep::Login).public(),
    r("POST", "/file", Ep::Submit),
    r("PUT", "/file", Ep::Submit),
    r("POST", "/file/sync", Ep::SubmitSync),
    r("PUT", "/file/{name}", Ep::SubmitNamed),
    r("POST", "/file/batch", Ep::BatchOpen),
    r("GET", "/file/rules", Ep::Rules),
    r("GET", "/admin/config/rule", Ep::WorkflowList),
    r("PUT", "/admin/config/rule/{name}", Ep::WorkflowPut).audited("workflow update"),
    r("DELETE", "/admin/config/rule/{name}", Ep::WorkflowDelete).audited("workflow revert"),
    r("GET", "/file/batch/{batch_id}", Ep::BatchReport),
    r("POST", "/file/batch/{batch_id}/close", Ep::BatchClose),
    r("POST", "/file/batch/{batch_id}/cancel", Ep::BatchCancel).audited("cancel"),
    r("GET", "/file/converted/{data_id}", Ep::Converted),
    r("GET", "/file/download/{data_id}", Ep::Download).audited("download"),
    r("POST", "/file/{id}/cancel", Ep::Cancel).audited("cancel"),
    r("GET", "/file/{id}", Ep::Result),
    r("GET", "/hash/{hash}", Ep::ByHash),
    r("GET", "/stat/engines", Ep::Engines),
    r("GET", "/stat/nodes", Ep::Nodes),
    r("GET", "/stat/history", Ep::History),
    r("GET", "/stat/report", Ep::Report),
    r("GET", "/metrics", Ep::Metrics),
    r("GET", "/admin/audit", Ep::Audit),
    r("POST", "/admin/node/{node}/drain", Ep::Drain).audited("drain"),
    r("POST", "/admin/engine/reload", Ep::Reload).audited("engine reload"),
    r("POST", "/logout", Ep::Logout).audited("logout"),
    r("GET", "/user", Ep::Me),
    r("POST", "/user/changepassword", Ep::ChangePassword).audited("password change"),
    r("GET", "/user/apikey", Ep::MyKeys),
    r("POST", "/user/apikey", Ep::CreateMyKey).audited("key create"),
    r("DELETE", "/user/apikey/{id}", Ep::RevokeMyKey).audited("key revoke"),
    r("GET", "/admin/apikey", Ep::ListKeys),
    r("DELETE", "/admin/apikey/{id}", Ep::RevokeAnyKey).audited("key revoke"),
    r("GET", "/admin/user", Ep::ListUsers),
    r("POST", "/admin/user", Ep::CreateUser).audited("user create"),
    r("GET", "/admin/user/{name}", Ep::GetUser),
    r("PUT", "/admin/user/{name}", Ep::UpdateUser).audited("user update"),
    r("DELETE", "/admin/user/{name}", Ep::DeleteUser).audited("user delete"),
    r("POST", "/admin/user/{name}/apikey", Ep::CreateUserKey).audited("key create"),
    r("GET", "/admin/role", Ep::Roles),
    r("GET", "/admin/role/{id}", Ep::Role),
    r("GET", "/version", Ep::Version),
    r("GET", "/apiversion", Ep::ApiVersion),
];

/// The route a request reaches and its path parameters, in order.
pub(crate) fn find<'p>(method: &str, parts: &[&'p str]) -> Option<(&'static Route, Vec<&'p str>)> {
    'routes: for route in ROUTES {
        if route.method != method {
            continue;
        }
        let mut pattern = route.path.split('/').filter(|s| !s.is_empty());
        let mut params = Vec::new();
        let mut given = parts.iter();
        loop {
            match (pattern.next(), given.next()) {
                (None, None) => return Some((route, params)),
                (Some(p), Some(g)) if p.starts_with('{') => params.push(*g),
                (Some(p), Some(g)) if p == *g => {}
                _ => continue 'routes,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_their_own_paths_and_parameters() {
        for route in ROUTES {
            let parts: Vec<&str> = route.path.split('/').filter(|s| !s.is_empty()).collect();
            let (found, params) = find(route.method, &parts).unwrap();
            assert_eq!(found.path, route.path, "{} is shadowed", route.path);
            assert_eq!(params.len(), route.path.matches('{').count());
        }
        let (found, params) = find("GET", &["file", "abc"]).unwrap();
        assert_eq!((found.ep, params), (Ep::Result, vec!["abc"]));
        assert_eq!(find("GET", &["file", "rules"]).unwrap().0.ep, Ep::Rules);
        assert!(find("GET", &["file", "a", "b"]).is_none());
        assert!(find("PATCH", &["file"]).is_none());
    }
}
