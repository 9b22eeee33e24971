#include "api/http/route_roles.hpp"

namespace steward::api::http {
namespace {

using boost::beast::http::verb;
using auth::Role;

// read: GET routes that look and start nothing. operate: whatever creates,
// runs, cancels or deletes work, the blocking GETs of EXEd's operations too
// (GET /execute?cmd=... runs a command). admin: token management, agent join tokens, approve and revoke,
// callback registrations.
constexpr RouteRole kRouteRoles[] = {
    {verb::get, "/healthz", kPublic},

    // Read for API clients; a browser (Accept prefers text/html) gets the
    // dashboard's page without a token (HttpServer::dispatch).
    {verb::get, "/", Role::Read},
    // The dashboard's files: nothing secret in them.
    {verb::get, "/ui/*path", kPublic},
    {verb::get, "/metrics", Role::Read},
    // Nothing secret (the source publishes it), but one rule is simpler to
    // audit: every route but /healthz needs a token.
    {verb::get, "/openapi.json", Role::Read},
    {verb::get, "/target", Role::Read},
    {verb::get, "/targets", Role::Read},
    {verb::get, "/jobs", Role::Read},
    {verb::get, "/jobs/:jid", Role::Read},
    {verb::get, "/jobs/:jid/events", Role::Read},
    {verb::get, "/jobs/:jid/output", Role::Read},
    {verb::get, "/packages", Role::Read},
    {verb::get, "/conditions", Role::Read},
    {verb::get, "/conditions/:id/values", Role::Read},
    {verb::get, "/tasks", Role::Read},
    {verb::get, "/task", Role::Read},
    {verb::get, "/services", Role::Read},
    {verb::get, "/actions/:id", Role::Read},
    {verb::get, "/agents", Role::Read},
    {verb::get, "/callbacks", Role::Read},

    {verb::get, "/ping", Role::Operate},
    {verb::post, "/ping", Role::Operate},
    {verb::get, "/facter", Role::Operate},
    {verb::post, "/facter", Role::Operate},
    {verb::get, "/service", Role::Operate},
    {verb::post, "/service", Role::Operate},
    {verb::get, "/execute", Role::Operate},
    {verb::post, "/execute", Role::Operate},
    {verb::get, "/copy", Role::Operate},
    {verb::post, "/copy", Role::Operate},
    {verb::get, "/fetch", Role::Operate},
    {verb::post, "/fetch", Role::Operate},
    {verb::get, "/deploy", Role::Operate},
    {verb::post, "/deploy", Role::Operate},
    {verb::post, "/packages/install", Role::Operate},
    {verb::delete_, "/jobs/:jid", Role::Operate},
    {verb::post, "/jobs/:jid/cancel", Role::Operate},
    // Also reads a run's state ({"jid"} alone): a read token uses GET /jobs/JID.
    {verb::post, "/tasks", Role::Operate},
    {verb::post, "/task", Role::Operate},
    {verb::post, "/actions", Role::Operate},
    {verb::post, "/services/:service/actions", Role::Operate},
    {verb::post, "/cloud-services/:service", Role::Operate},
    {verb::post, "/policies/:policy", Role::Operate},
    // The files dir holds what copy sends and fetch brings back (a target's
    // /etc/shadow, say): as much operate's as the operations that move them.
    {verb::put, "/files/*path", Role::Operate},
    {verb::get, "/files/*path", Role::Operate},
    {verb::delete_, "/files/*path", Role::Operate},

    {verb::get, "/tokens", Role::Admin},
    {verb::post, "/tokens", Role::Admin},
    {verb::delete_, "/tokens/:name", Role::Admin},
    // Who may run work as an agent: as sensitive as the tokens.
    {verb::post, "/agents/join-tokens", Role::Admin},
    {verb::post, "/agents/:id/approve", Role::Admin},
    {verb::post, "/agents/:id/revoke", Role::Admin},
    // Which machines may call back over SSH, and as whom steward logs in to them.
    {verb::post, "/callbacks", Role::Admin},
    {verb::delete_, "/callbacks/:name", Role::Admin},
    // Who did what to which machines, from where: for those who hand out
    // the tokens, not for every dashboard a read token serves.
    {verb::get, "/audit", Role::Admin},
};

}  // namespace

std::span<const RouteRole> route_roles() { return kRouteRoles; }

}  // namespace steward::api::http
