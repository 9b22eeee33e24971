"""A machine behind NAT, made of network namespaces, for the agent and
callback tests.

    root namespace (the server)        router namespace             target namespace
    SERVER_ADDR 10.K.1.1/30  <-veth->  10.K.1.2/30 | 10.K.2.1/24 <-veth-> 10.K.2.2/24, default via 10.K.2.1

The router masquerades what leaves towards the server (nftables), so the
target reaches SERVER_ADDR and the server sees only the router's address.
The root namespace gets an `unreachable` route for the target's network: the
server cannot reach the target (a direct connection fails at once with "No
route to host"), and nothing aimed at it ever leaves this machine.

`NatTarget().start()` raises `NamespacesUnavailable` (with the reason) where
namespaces cannot be made; tests skip with that message. Every name carries
the test process's pid, so parallel test modules never collide.
"""

import os
import shutil
import subprocess

IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"


class NamespacesUnavailable(Exception):
    pass


def _run(*argv, check=True):
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NamespacesUnavailable(f"{' '.join(argv)}: {proc.stderr.strip() or proc.returncode}")
    return proc


class NatTarget:
    def __init__(self, tag="nat"):
        pid = os.getpid()
        self.router = f"st-{tag}-r{pid}"
        self.target = f"st-{tag}-t{pid}"
        # 10.K.x.x with K from the pid: parallel modules get distinct networks.
        k = 100 + pid % 150
        self.server_address = f"10.{k}.1.1"
        self.router_address = f"10.{k}.1.2"
        self.target_address = f"10.{k}.2.2"
        self.target_network = f"10.{k}.2.0/24"
        self.gateway = f"10.{k}.2.1"  # the router, as the target sees it
        self._uplink = f"stu{pid}"  # interface names: at most 15 characters
        self._inner = f"sti{pid}"
        self._made = []

    def start(self):
        for tool in (IP, NFT):
            if not os.access(tool, os.X_OK):
                raise NamespacesUnavailable(f"{tool} not found: install iproute2 and nftables")
        try:
            self._build()
        except NamespacesUnavailable:
            self.stop()
            raise
        return self

    def _build(self):
        for ns in (self.router, self.target):
            _run(IP, "netns", "add", ns)
            self._made.append(ns)
        server, router, target = self.server_address, self.router_address, self.target_address
        _run(IP, "link", "add", self._uplink, "type", "veth", "peer", "name", "up0", "netns", self.router)
        self._made.append("link")
        _run(IP, "link", "add", self._inner, "type", "veth", "peer", "name", "in0", "netns", self.target)
        _run(IP, "link", "set", self._inner, "netns", self.router)
        _run(IP, "addr", "add", f"{server}/30", "dev", self._uplink)
        _run(IP, "link", "set", self._uplink, "up")
        _run(IP, "route", "add", "unreachable", self.target_network)
        self._made.append("route")
        r = [IP, "-n", self.router]
        _run(*r, "addr", "add", f"{router}/30", "dev", "up0")
        _run(*r, "addr", "add", f"{self.gateway}/24", "dev", self._inner)
        for dev in ("lo", "up0", self._inner):
            _run(*r, "link", "set", dev, "up")
        t = [IP, "-n", self.target]
        _run(*t, "addr", "add", f"{target}/24", "dev", "in0")
        for dev in ("lo", "in0"):
            _run(*t, "link", "set", dev, "up")
        _run(*t, "route", "add", "default", "via", self.gateway)
        _run(IP, "netns", "exec", self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        rules = ("table ip nat {\n  chain post {\n    type nat hook postrouting priority srcnat;\n"
                 "    oifname \"up0\" masquerade\n  }\n}\n")
        proc = subprocess.run([IP, "netns", "exec", self.router, NFT, "-f", "-"], input=rules,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise NamespacesUnavailable(f"nft masquerade rule: {proc.stderr.strip()}")

    def command(self, argv):
        """argv run inside the target namespace."""
        return [IP, "netns", "exec", self.target] + list(argv)

    def popen(self, argv, **kwargs):
        return subprocess.Popen(self.command(argv), **kwargs)

    def set_link(self, up):
        """Cuts (or restores) the target's only link, as a network failure would."""
        _run(IP, "-n", self.target, "link", "set", "in0", "up" if up else "down")
        if up:  # taking a link down drops the routes through it
            _run(IP, "-n", self.target, "route", "replace", "default", "via", self.gateway)

    def stop(self):
        if "route" in self._made:
            _run(IP, "route", "del", "unreachable", self.target_network, check=False)
        if "link" in self._made:
            _run(IP, "link", "del", self._uplink, check=False)
        for ns in (self.target, self.router):
            if ns in self._made:
                # Processes left inside keep a namespace's devices alive; end them first.
                pids = _run(IP, "netns", "pids", ns, check=False).stdout.split()
                for pid in pids:
                    try:
                        os.kill(int(pid), 9)
                    except (ProcessLookupError, ValueError):
                        pass
                _run(IP, "netns", "del", ns, check=False)
        self._made = []


def nat_target_or_skip(name, what):
    """A started NatTarget, or a pytest skip naming `what` cannot be tested here and why."""
    import pytest
    target = NatTarget(name)
    try:
        target.start()
    except NamespacesUnavailable as why:
        pytest.skip(f"network namespaces cannot be made here, so no {what}: {why}")
    return target
