import AgentAPI
import Testing

@Suite struct AdminRouteTests {
    @Test(arguments: AdminRoute.allCases)
    func everyRouteIsFoundByItsMethodAndPath(route: AdminRoute) {
        #expect(AdminRoute.parse(method: route.method, uri: route.path) == route)
        #expect(AdminRoute.parse(method: route.method, uri: route.path + "?verbose=1") == route)
        #expect(AdminRoute.isKnownPath(route.path))
    }

    @Test func pathsAreTheAdminPathConstants() {
        #expect(
            AdminRoute.allCases.map(\.path) == [
                AdminPath.status, AdminPath.services, AdminPath.health, AdminPath.explain, AdminPath.sync,
                AdminPath.resync,
            ]
        )
    }

    @Test(
        arguments: [
            ("POST", "/v1/status"), ("GET", "/v1/sync"), ("get", "/v1/status"), ("GET", "/v1/status/"),
            ("GET", "/v1/%73tatus"), ("GET", "/v1/../v1/status"), ("GET", "//v1/status"), ("GET", "v1/status"),
            ("GET", "http://localhost/v1/status"), ("GET", ""), ("", "/v1/status"), ("HEAD", "/v1/status"),
        ]
    )
    func otherSpellingsAndMethodsAreNotRoutes(method: String, uri: String) {
        #expect(AdminRoute.parse(method: method, uri: uri) == nil)
    }

    @Test func aKnownPathWithTheWrongMethodIsTold() {
        #expect(AdminRoute.isKnownPath("/v1/sync"))
        #expect(!AdminRoute.isKnownPath("/v1/nosuch"))
    }
}
