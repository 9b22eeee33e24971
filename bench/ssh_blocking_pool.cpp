// The alternative design for the ssh transport, measured against it: a
// bounded pool of threads each driving blocking libssh calls. Runs
// `hostname` on every host given, cold (connect + authenticate + run), then
// warm (a new channel on each connection kept from the cold round).
//
// usage: ssh_blocking_pool THREADS PORT USER KEYFILE HOST...
// prints: {"threads": T, "hosts": N, "cold_seconds": C, "warm_seconds": W, "failures": F}
#include <libssh/libssh.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Host {
  std::string address;
  ssh_session session = nullptr;
};

bool run_hostname(ssh_session session) {
  ssh_channel channel = ssh_channel_new(session);
  if (!channel) return false;
  bool ok = ssh_channel_open_session(channel) == SSH_OK && ssh_channel_request_exec(channel, "hostname") == SSH_OK;
  char buffer[256];
  while (ok) {
    int got = ssh_channel_read(channel, buffer, sizeof buffer, 0);
    if (got == 0) break;
    if (got < 0) ok = false;
  }
  if (ok) ssh_channel_send_eof(channel);
  ssh_channel_close(channel);
  ssh_channel_free(channel);
  return ok;
}

bool connect(Host& host, int port, const char* user, ssh_key key) {
  host.session = ssh_new();
  bool process_config = false;
  ssh_options_set(host.session, SSH_OPTIONS_PROCESS_CONFIG, &process_config);
  ssh_options_set(host.session, SSH_OPTIONS_HOST, host.address.c_str());
  ssh_options_set(host.session, SSH_OPTIONS_PORT, &port);
  ssh_options_set(host.session, SSH_OPTIONS_USER, user);
  if (ssh_connect(host.session) != SSH_OK) return false;
  // Host-key checking is left out: it is the same work in both designs.
  return ssh_userauth_publickey(host.session, nullptr, key) == SSH_AUTH_SUCCESS;
}

template <typename Work>
std::pair<double, int> fan_out(std::vector<Host>& hosts, int threads, Work work) {
  std::atomic<std::size_t> next{0};
  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      for (std::size_t index; (index = next++) < hosts.size();)
        if (!work(hosts[index])) ++failures;
    });
  }
  for (auto& thread : pool) thread.join();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), failures.load()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s THREADS PORT USER KEYFILE HOST...\n", argv[0]);
    return 2;
  }
  int threads = std::atoi(argv[1]);
  int port = std::atoi(argv[2]);
  const char* user = argv[3];
  ssh_init();
  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_file(argv[4], nullptr, nullptr, nullptr, &key) != SSH_OK) {
    std::fprintf(stderr, "cannot read key %s\n", argv[4]);
    return 2;
  }
  std::vector<Host> hosts;
  for (int i = 5; i < argc; ++i) hosts.push_back(Host{argv[i]});
  auto [cold, cold_failures] =
      fan_out(hosts, threads, [&](Host& host) { return connect(host, port, user, key) && run_hostname(host.session); });
  auto [warm, warm_failures] = fan_out(hosts, threads, [](Host& host) { return run_hostname(host.session); });
  std::printf("{\"threads\": %d, \"hosts\": %zu, \"cold_seconds\": %.4f, \"warm_seconds\": %.4f, \"failures\": %d}\n",
              threads, hosts.size(), cold, warm, cold_failures + warm_failures);
  for (auto& host : hosts) {
    ssh_disconnect(host.session);
    ssh_free(host.session);
  }
  ssh_key_free(key);
  return cold_failures + warm_failures == 0 ? 0 : 1;
}
