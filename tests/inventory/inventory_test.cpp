#include "inventory/inventory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace steward::inventory {
namespace {

using ::testing::ElementsAre;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Names = std::vector<std::string>;
// Each case: an input and a part of the error it must give.
using Cases = std::vector<std::pair<std::string_view, std::string_view>>;

Inventory checked(Result<Inventory> result) {
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? std::move(*result) : Inventory();
}
Inventory ini(std::string_view text) { return checked(Inventory::parse_ini(text, "test.ini")); }
Inventory yaml(std::string_view text) { return checked(Inventory::parse_yaml(text, "test.yml")); }

template <typename T>
std::string error_of(const Result<T>& r) {
  return r.ok() ? "(parsed)" : r.error().message;
}
std::string ini_error(std::string_view text) {
  return error_of(Inventory::parse_ini(text, "inventory.ini"));
}
std::string yaml_error(std::string_view text) {
  return error_of(Inventory::parse_yaml(text, "inventory.yml"));
}

Names host_names(const Inventory& inv) {
  Names out;
  for (const auto& h : inv.hosts()) out.push_back(h.name);
  return out;
}

std::string var(const Inventory& inv, std::string_view host, const std::string& key) {
  const Host* h = inv.find(host);
  if (h == nullptr) return "(no host)";
  auto it = h->vars.find(key);
  return it == h->vars.end() ? "(unset)" : it->second;
}

Names match(const Inventory& inv, std::string_view pattern) {
  auto result = inv.match(pattern);
  return result.ok() ? *result : Names{"error: " + result.error().message};
}

std::string write_temp(const std::string& name, std::string_view content) {
  auto path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

constexpr std::string_view kIni = R"(# a comment
lonely ansible_host=10.0.0.9

[web]
web1 ansible_host=10.0.0.1 http_port=8080
web2 note="two words" other='single # quoted' # a comment
[db]
db1 ansible_port=5433   # trailing comment
[prod:children]
web
db
[all:vars]
level=all
ntp=pool.ntp.org
[prod:vars]
level=prod
env = "production"
[web:vars]
level=web
)";

constexpr std::string_view kYaml = R"(all:
  hosts:
    lonely:
      ansible_host: 10.0.0.9
  vars:
    level: all
    ntp: pool.ntp.org
  children:
    prod:
      vars:
        level: prod
        env: production
      children:
        web:
          hosts:
            web1: {ansible_host: 10.0.0.1, http_port: 8080}
            web2:
              note: two words
              other: "single # quoted"
          vars: {level: web}
        db:
          hosts:
            db1: {ansible_port: 5433}
)";

TEST(IniParse, GroupsHostsAndVars) {
  Inventory inv = ini(kIni);
  EXPECT_THAT(host_names(inv), ElementsAre("lonely", "web1", "web2", "db1"));
  EXPECT_THAT(inv.group_names(), ElementsAre("all", "db", "prod", "ungrouped", "web"));
  EXPECT_THAT(match(inv, "ungrouped"), ElementsAre("lonely"));
  EXPECT_THAT(match(inv, "all"), ElementsAre("lonely", "web1", "web2", "db1"));
  EXPECT_EQ(var(inv, "web1", "http_port"), "8080");
  EXPECT_EQ(var(inv, "web2", "note"), "two words");
  EXPECT_EQ(var(inv, "web2", "other"), "single # quoted");
  EXPECT_EQ(var(inv, "db1", "ansible_port"), "5433");
  EXPECT_EQ(var(inv, "db1", "env"), "production");
  EXPECT_EQ(var(inv, "lonely", "level"), "all");
  EXPECT_EQ(var(inv, "db1", "level"), "prod");
  EXPECT_EQ(var(inv, "web1", "level"), "web");
  EXPECT_THAT(inv.find("web1")->groups, ElementsAre("all", "prod", "web"));
}

TEST(YamlParse, SameInventoryAsIni) {
  Inventory a = ini(kIni), b = yaml(kYaml);
  ASSERT_EQ(host_names(a), host_names(b));
  EXPECT_EQ(a.group_names(), b.group_names());
  for (const auto& host : a.hosts()) {
    const Host* other = b.find(host.name);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(host.groups, other->groups) << host.name;
    EXPECT_EQ(host.vars, other->vars) << host.name;
  }
}

TEST(IniParse, ShlexQuotingAndPythonLiterals) {
  Inventory inv =
      ini("h a=\"x \\\" y\" b='it''s' c=\\# d=\"'q'\" e=True f=[1,2]\n"
          "[g]\nh\n[g:vars]\nq='quoted' # kept\nr=\"a\\tb\"\ns=plain # kept too\n");
  EXPECT_EQ(var(inv, "h", "a"), "x \" y");
  EXPECT_EQ(var(inv, "h", "b"), "its");
  EXPECT_EQ(var(inv, "h", "c"), "#");
  EXPECT_EQ(var(inv, "h", "d"), "q");
  EXPECT_EQ(var(inv, "h", "e"), "True");
  EXPECT_EQ(var(inv, "h", "f"), "[1,2]");
  // In :vars sections everything after '=' is the value, as in Ansible.
  EXPECT_EQ(var(inv, "h", "q"), "'quoted' # kept");
  EXPECT_EQ(var(inv, "h", "r"), "a\tb");
  EXPECT_EQ(var(inv, "h", "s"), "plain # kept too");
}

TEST(IniParse, CrlfBomAndLocalhost) {
  Inventory inv = ini("\xEF\xBB\xBFlocalhost ansible_connection=local\r\n[g]\r\nother\r\n");
  EXPECT_THAT(host_names(inv), ElementsAre("localhost", "other"));
  EXPECT_EQ(var(inv, "localhost", "ansible_connection"), "local");
  EXPECT_THAT(match(inv, "g"), ElementsAre("other"));
}

TEST(IniParse, HostInAGroupLeavesUngrouped) {
  Inventory inv = ini("a\nb\n[g]\na\n[all]\nc\n");
  EXPECT_THAT(match(inv, "ungrouped"), ElementsAre("b", "c"));
  EXPECT_THAT(inv.find("a")->groups, ElementsAre("all", "g"));
}

TEST(IniParse, UndefinedChildIsAnEmptyGroup) {
  Inventory inv = ini("[parent:children]\nghost\n[parent]\nh\n");
  EXPECT_THAT(inv.group_names(), ElementsAre("all", "ghost", "parent", "ungrouped"));
  EXPECT_THAT(match(inv, "parent"), ElementsAre("h"));
  EXPECT_THAT(match(inv, "parent:ghost"),
              ElementsAre("h"));  // an empty group is not an unknown name
}

TEST(Precedence, AllParentChildHost) {
  Inventory inv =
      ini("[a:children]\nb\n[b:children]\nc\n[c]\nh1 x=host\nh2\n"
          "[all:vars]\nx=all\ny=all\nz=all\n[a:vars]\nx=a\ny=a\nz=a\n[b:vars]\nx=b\ny=b\n"
          "[c:vars]\nx=c\n");
  EXPECT_EQ(var(inv, "h1", "x"), "host");
  EXPECT_EQ(var(inv, "h2", "x"), "c");
  EXPECT_EQ(var(inv, "h2", "y"), "b");
  EXPECT_EQ(var(inv, "h2", "z"), "a");
}

TEST(Precedence, SiblingsAlphabeticalAndPriority) {
  Inventory inv = ini("[zeta]\nh\n[alpha]\nh\n[zeta:vars]\nv=zeta\n[alpha:vars]\nv=alpha\n");
  EXPECT_EQ(var(inv, "h", "v"), "zeta");  // same depth: later name wins
  Inventory prio =
      ini("[zeta]\nh\n[alpha]\nh\n[zeta:vars]\nv=zeta\n"
          "[alpha:vars]\nv=alpha\nansible_group_priority=10\n");
  EXPECT_EQ(var(prio, "h", "v"), "alpha");
  EXPECT_EQ(var(prio, "h", "ansible_group_priority"), "(unset)");
  // Depth beats name: a deeper group wins over a shallower one named later.
  Inventory deep = ini("[a:children]\nb\n[b]\nh\n[z]\nh\n[b:vars]\nv=b\n[z:vars]\nv=z\n");
  EXPECT_EQ(var(deep, "h", "v"), "b");
}

TEST(Precedence, YamlSameRules) {
  Inventory inv = yaml(
      "all:\n  vars: {x: all, y: all}\n  children:\n    zeta:\n      hosts: {h: }\n"
      "      vars: {x: zeta}\n    alpha:\n      hosts: {h: {y: host}}\n      vars: {x: alpha, y: "
      "alpha}\n");
  EXPECT_EQ(var(inv, "h", "x"), "zeta");
  EXPECT_EQ(var(inv, "h", "y"), "host");
}

TEST(Ranges, ExpandLikeAnsible) {
  Inventory inv =
      ini("[web]\nweb[01:03] role=web\ndb-[a:c]\nn[1:7:3]x\nr[a:b][1:2]\nz[:1]\nport:2222\n"
          "ranged[8:9]:22 ansible_port=23\n[up]\nu[y:B]\n");
  EXPECT_THAT(match(inv, "web"),
              ElementsAre("web01", "web02", "web03", "db-a", "db-b", "db-c", "n1x", "n4x", "n7x",
                          "ra1", "ra2", "rb1", "rb2", "z0", "z1", "port", "ranged8", "ranged9"));
  EXPECT_EQ(var(inv, "web02", "role"), "web");
  EXPECT_EQ(var(inv, "port", "ansible_port"), "2222");
  EXPECT_EQ(var(inv, "ranged9", "ansible_port"), "23");
  EXPECT_THAT(match(inv, "up"), ElementsAre("uy", "uz", "uA", "uB"));  // string.ascii_letters order
}

TEST(Ranges, BadRangesAreErrors) {
  const Cases cases = {
      {"[g]\nweb[1:]\n", "inventory.ini:2: bad host range in 'web[1:]': missing end value"},
      {"web[3:1]\n", "inventory.ini:1: bad host range in 'web[3:1]': begin must be <= end"},
      {"web[01:100]\n", "same width"},
      {"web[1:x]\n", "numbers or both be letters"},
      {"web[1:3:0]\n", "step must be a positive integer"},
      {"web[1:2\n", "missing ]"},
      {"web[1:2:3:4]\n", "must be [begin:end] or [begin:end:step]"},
      {"h[0:9999999999]\n", "too many hosts"},
      {"h[0:999][0:999]\n", "too many hosts"},
  };
  for (const auto& [text, part] : cases) EXPECT_THAT(ini_error(text), HasSubstr(part)) << text;
  EXPECT_THAT(yaml_error("all:\n  hosts:\n    w[1:0]:\n"),
              HasSubstr("inventory.yml:3: bad host range"));
}

TEST(YamlParse, ScalarsNullsAndStructures) {
  Inventory inv = yaml(R"(
defaults: &defaults
  vars: {from_anchor: yes}
all:
  hosts:
    a:
    b: ~
    c:
      port: 22
      flag: true
      ratio: 1.50
      quoted: "007"
      empty:
      list: [1, two, "3", null, false]
      map: {k: v, n: 2.5}
  children:
    g:
      hosts: a
      vars:
        <<: {merged: m, over: merged}
        over: own
    h:
      <<: *defaults
)");
  EXPECT_THAT(host_names(inv), ElementsAre("a", "b", "c"));
  EXPECT_EQ(var(inv, "c", "port"), "22");
  EXPECT_EQ(var(inv, "c", "flag"), "true");
  EXPECT_EQ(var(inv, "c", "ratio"), "1.50");
  EXPECT_EQ(var(inv, "c", "quoted"), "007");
  EXPECT_EQ(var(inv, "c", "empty"), "");
  EXPECT_EQ(var(inv, "c", "list"), R"([1,"two","3",null,false])");
  EXPECT_EQ(var(inv, "c", "map"), R"({"k":"v","n":2.5E0})");
  EXPECT_EQ(var(inv, "a", "merged"), "m");
  EXPECT_EQ(var(inv, "a", "over"), "own");
  EXPECT_THAT(match(inv, "g"), ElementsAre("a"));
  EXPECT_THAT(inv.group_names(), ElementsAre("all", "defaults", "g", "h", "ungrouped"));
  EXPECT_THAT(match(inv, "ungrouped"), ElementsAre("b", "c"));
}

Inventory loaded(const std::string& name, std::string_view text) {
  return checked(Inventory::load_file(write_temp(name, text)));
}
std::string load_error(const std::string& name, std::string_view text) {
  return error_of(Inventory::load_file(write_temp(name, text)));
}

TEST(LoadFile, PicksTheFormatFromTheContent) {
  EXPECT_EQ(var(loaded("inv.txt", kYaml), "web1", "http_port"), "8080");
  EXPECT_EQ(var(loaded("inv.yml", kIni), "web1", "http_port"), "8080");  // the name does not decide
  EXPECT_TRUE(loaded("bare", "all:\n").hosts().empty());
  EXPECT_EQ(var(loaded("inv.json", R"({"all": {"hosts": {"j": {"x": 1}}}})"), "j", "x"), "1");
}

TEST(LoadFile, ErrorsNameTheFileAndLine) {
  const std::string dir = (std::filesystem::path(::testing::TempDir()) / "").string();
  EXPECT_EQ(load_error("inventory.ini", "[web]\nweb1\n\n# comment\n[db]\ndb1\n[broken\nx\n"),
            dir + "inventory.ini:7: unterminated section header");
  // Neither YAML nor INI: the YAML error is the one that helps.
  EXPECT_THAT(load_error("bad.yml", "all:\n  hosts:\n    a: {x: [1, 2}\n"),
              ::testing::StartsWith(dir + "bad.yml:3: "));
  EXPECT_EQ(
      load_error("shaped.yml", "all:\n  hostz:\n    a:\n"),
      dir +
          "shaped.yml:2: unexpected key 'hostz' in group 'all' (expected hosts, vars or children)");
  auto missing = Inventory::load_file("/nonexistent/inventory.ini");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("/nonexistent/inventory.ini"));
  EXPECT_FALSE(Inventory::load_file(::testing::TempDir()).ok());
}

TEST(IniParse, MalformedInputIsAClearError) {
  const Cases cases = {
      {"[web:hostz]\n", "inventory.ini:1: unknown section type 'hostz' in [web:hostz] (expected"},
      {"[web] junk\n", "inventory.ini:1: unexpected text after section header: junk"},
      {"[]\n", "inventory.ini:1: invalid section header"},
      {"[a b]\n", "inventory.ini:1: invalid section header"},
      {"\nh foo\n", "inventory.ini:2: expected key=value host variable, got: foo"},
      {"h x='open\n", "inventory.ini:1: unterminated quote"},
      {"[g:vars]\nnovalue\n", "inventory.ini:2: expected key=value, got: novalue"},
      {"[g:vars]\n=v\n", "inventory.ini:2: empty variable name"},
      {"[g:children]\na b\n", "inventory.ini:2: expected a group name"},
      {"[g]\n[nope:vars]\n", "inventory.ini:2: section [nope:vars] is for group 'nope', which"},
      {"[a:children]\nb\n[b:children]\na\n", "is its own ancestor (children form a cycle)"},
      {"[a:children]\na\n", "inventory.ini:2: group 'a' cannot be a child of itself"},
      {"[a:children]\nall\n", "inventory.ini:2: group 'all' cannot be a child"},
      {"[g]\n[g:vars]\nansible_group_priority=high\n", "inventory.ini:3: ansible_group_priority"},
  };
  for (const auto& [text, part] : cases) EXPECT_THAT(ini_error(text), HasSubstr(part)) << text;
  EXPECT_EQ(Inventory::parse_ini("[x", "f").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(ini_error("[g:vars] # fine\nx=1\n[g] ; fine\n[g:children]  \n"), "(parsed)");
}

TEST(HostNames, ControlBytesAndBlanksAreRefusedWithFileAndLine) {
  using namespace std::string_literals;
  EXPECT_EQ(ini_error("[web]\nok1\nweb\x01x\n"), "inventory.ini:3: host name 'web\\x01x' contains a control byte (\\x01)");
  EXPECT_EQ(ini_error("[web]\nweb\0x ansible_port=22\n"s),
            "inventory.ini:2: host name 'web\\x00x' contains a control byte (\\x00)");
  EXPECT_EQ(ini_error("\"web 1\"\n"), "inventory.ini:1: host name 'web 1' contains whitespace");
  EXPECT_EQ(ini_error("del\x7f\n"), "inventory.ini:1: host name 'del\\x7f' contains a control byte (\\x7f)");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    \"web\\x1b[31m\":\n"),
            "inventory.yml:3: host name 'web\\x1b[31m' contains a control byte (\\x1b)");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    \"a\\tb\":\n"), "inventory.yml:3: host name 'a\\x09b' contains a control byte (\\x09)");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    \"two words\":\n"), "inventory.yml:3: host name 'two words' contains whitespace");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    web-01.example.com:\n    \"h[1:2]\":\n"), "(parsed)");
}

TEST(YamlParse, MalformedInputIsAClearError) {
  const Cases cases = {
      {"all:\n  hosts:\n    a: {x: [1, 2}\n", "inventory.yml:3: "},
      {"- a\n- b\n", "inventory.yml:1: a YAML inventory must be a mapping"},
      {"all: 5\n", "inventory.yml:1: group 'all' must be a mapping"},
      {"all:\n  hosts: [a, b]\n", "inventory.yml:2: 'hosts' of group 'all' must be a mapping"},
      {"all:\n  hosts:\n    a: 5\n", "inventory.yml:3: host 'a' must map to its variables"},
      {"all:\n  children:\n    [x]: {}\n", "inventory.yml:3: a group name must be"},
      {"a:\n  children:\n    b:\n      children:\n        a:\n", "cycle"},
  };
  for (const auto& [text, part] : cases) EXPECT_THAT(yaml_error(text), HasSubstr(part)) << text;
  EXPECT_EQ(yaml_error(""), "(parsed)");
  EXPECT_EQ(yaml_error("# only a comment\n"), "(parsed)");
}

TEST(Patterns, EveryForm) {
  Inventory inv =
      ini("solo\n[web]\nweb1\nweb2\nweb10\n[db]\ndb1\nweb2\n[staging]\nweb1\ndb1\n"
          "[prod:children]\nweb\ndb\n[empty:children]\n");
  EXPECT_THAT(match(inv, "all"), ElementsAre("solo", "web1", "web2", "web10", "db1"));
  EXPECT_THAT(match(inv, "*"), ElementsAre("solo", "web1", "web2", "web10", "db1"));
  EXPECT_THAT(match(inv, "web10"), ElementsAre("web10"));
  EXPECT_THAT(match(inv, "db"), ElementsAre("web2", "db1"));  // inventory order, not group order
  EXPECT_THAT(match(inv, "web?"), ElementsAre("web1", "web2"));
  EXPECT_THAT(match(inv, "w*"), ElementsAre("web1", "web2", "web10"));
  EXPECT_THAT(match(inv, "st*"), ElementsAre("web1", "db1"));  // globs match group names too
  EXPECT_THAT(match(inv, "db:solo"), ElementsAre("solo", "web2", "db1"));
  EXPECT_THAT(match(inv, "db1,web1, web2"), ElementsAre("web1", "web2", "db1"));
  EXPECT_THAT(match(inv, "web:db"), ElementsAre("web1", "web2", "web10", "db1"));  // no duplicates
  EXPECT_THAT(match(inv, "web:&db"), ElementsAre("web2"));
  EXPECT_THAT(match(inv, "prod:!staging"), ElementsAre("web2", "web10"));
  EXPECT_THAT(match(inv, "!staging:prod"), ElementsAre("web2", "web10"));  // exclusions apply last
  EXPECT_THAT(match(inv, "&staging:web:!web1:db"), ElementsAre("db1"));
  EXPECT_THAT(match(inv, "!web"), ElementsAre("solo", "db1"));  // only exclusions: from all
  EXPECT_THAT(match(inv, "&db"), ElementsAre("web2", "db1"));
  EXPECT_THAT(match(inv, "~web[0-9]$"), ElementsAre("web1", "web2"));
  EXPECT_THAT(match(inv, "~w"),
              ElementsAre("web1", "web2", "web10"));  // re.match: anchored at start
  EXPECT_THAT(match(inv, "web[0]"), ElementsAre("web1"));
  EXPECT_THAT(match(inv, "web[-1]"), ElementsAre("web10"));
  EXPECT_THAT(match(inv, "web[1:]"), ElementsAre("web2", "web10"));
  EXPECT_THAT(match(inv, "web[0:1],solo"), ElementsAre("solo", "web1", "web2"));
  EXPECT_THAT(match(inv, "all:!empty"), ElementsAre("solo", "web1", "web2", "web10", "db1"));
}

TEST(Patterns, NothingMatchedIsNotFound) {
  Inventory inv = ini("[web]\nweb1\n[db]\ndb1\n[none:children]\n");
  auto expect_not_found = [&](std::string_view pattern, const std::string& message) {
    auto result = inv.match(pattern);
    ASSERT_FALSE(result.ok()) << pattern;
    EXPECT_EQ(result.error().code, ErrorCode::NotFound) << pattern;
    EXPECT_EQ(result.error().message, message) << pattern;
  };
  expect_not_found("nosuch", "no such host: nosuch");
  expect_not_found("web:nosuch", "no such host: nosuch");
  expect_not_found("web:!ghost*", "no such host: ghost*");
  expect_not_found("web:&ghost", "no such host: ghost");
  expect_not_found("web:&db", "no such host: web:&db");
  expect_not_found("none", "no such host: none");
  expect_not_found("web[5]", "no such host: web[5]");
  expect_not_found("~zz", "no such host: ~zz");
  // A back-reference or count too long for a long: libstdc++ overflowed reading it (found by fuzz_host_pattern).
  for (std::string_view bad :
       {"", " , : ", "!", "web:&", "~(", "~.+\\2222222222222222222222", "~w{99999999999999999999}"}) {
    auto result = inv.match(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::InvalidArgument) << bad;
  }
}

TEST(VirtualMachineIds, MapToHostsByNameOrStewardVmId) {
  auto inv = ini(
      "0190b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b ansible_connection=local\n"
      "web1 steward_vm_id=6F1C2D3E-4B5A-4C7D-8E9F-A0B1C2D3E4F5\n"
      "[db]\n"
      "db1 steward_vm_id=' 11111111-2222-3333-4444-555555555555 '\n");
  EXPECT_EQ(*inv.host_for_vm("0190b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"), "0190b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b");
  EXPECT_EQ(*inv.host_for_vm("6f1c2d3e-4b5a-4c7d-8e9f-a0b1c2d3e4f5"), "web1");
  EXPECT_EQ(*inv.host_for_vm("6F1C2D3E-4B5A-4C7D-8E9F-A0B1C2D3E4F5"), "web1");
  EXPECT_EQ(*inv.host_for_vm("11111111-2222-3333-4444-555555555555"), "db1");
  EXPECT_EQ(*inv.host_for_vm("web1"), "web1");
  auto unknown = inv.host_for_vm("99999999-2222-3333-4444-555555555555");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::NotFound);
  EXPECT_THAT(unknown.error().message, HasSubstr("99999999-2222-3333-4444-555555555555"));
  EXPECT_FALSE(inv.host_for_vm("").ok());
}

TEST(VirtualMachineIds, TwoHostsClaimingOneIdIsAnError) {
  EXPECT_THAT(ini_error("a steward_vm_id=6f1c2d3e-4b5a-4c7d-8e9f-a0b1c2d3e4f5\n"
                        "b steward_vm_id=6F1C2D3E-4B5A-4C7D-8E9F-A0B1C2D3E4F5\n"),
              AllOf(HasSubstr("inventory.ini"), HasSubstr("hosts a and b"),
                    HasSubstr("steward_vm_id=6F1C2D3E-4B5A-4C7D-8E9F-A0B1C2D3E4F5")));
  // A group variable gives every member the same id.
  EXPECT_THAT(yaml_error("all:\n  children:\n    vms:\n      hosts:\n        x:\n        y:\n"
                         "      vars:\n        steward_vm_id: 6f1c2d3e-4b5a-4c7d-8e9f-a0b1c2d3e4f5\n"),
              AllOf(HasSubstr("inventory.yml"), HasSubstr("hosts x and y")));
  EXPECT_THAT(ini_error("a steward_vm_id=\"\"\n"), HasSubstr("steward_vm_id is empty"));
}

TEST(Target, ConnectionAndSessions) {
  Inventory inv =
      ini("localhost\nweb1 steward_max_sessions=4\nvm ansible_connection=qga\n"
          "bad steward_max_sessions=two\nzero steward_max_sessions=0\n"
          "[lh]\nlocalhost ansible_connection=ssh\n");
  auto web = inv.target("web1");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->name, "web1");
  EXPECT_EQ(web->connection, "ssh");
  EXPECT_EQ(web->max_sessions, 4);
  EXPECT_EQ(web->var("steward_max_sessions"), "4");
  EXPECT_EQ(inv.target("vm")->connection, "qga");
  EXPECT_EQ(inv.target("vm")->max_sessions, 1);
  EXPECT_EQ(inv.target("localhost")->connection, "ssh");  // set explicitly
  EXPECT_EQ(ini("localhost\n").target("localhost")->connection, "local");
  EXPECT_EQ(error_of(inv.target("bad")),
            "host bad: steward_max_sessions must be an integer >= 1, got 'two'");
  EXPECT_THAT(error_of(inv.target("zero")), HasSubstr("host zero: steward_max_sessions"));
  EXPECT_EQ(inv.target("zero").error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of(inv.target("ghost")), "no such host: ghost");
  EXPECT_EQ(inv.target("ghost").error().code, ErrorCode::NotFound);
  EXPECT_EQ(inv.find("ghost"), nullptr);
}

TEST(Builtin, OneLocalHost) {
  Inventory inv = Inventory::builtin();
  EXPECT_THAT(host_names(inv), ElementsAre("localhost"));
  EXPECT_THAT(match(inv, "all"), ElementsAre("localhost"));
  EXPECT_EQ(inv.target("localhost")->connection, "local");
  EXPECT_EQ(inv.target("localhost")->max_sessions, 1);
}

// Whatever the bytes, parsing returns a value or an error: no crash, no exception.
void parse_everything(const std::string& text, int n) {
  auto a = Inventory::parse_ini(text, "fuzz.ini");
  auto b = Inventory::parse_yaml(text, "fuzz.yml");
  auto c = Inventory::load_file(write_temp("fuzz" + std::to_string(n % 4), text));
  for (const auto* r : {&a, &b, &c}) {
    if (!r->ok()) {
      EXPECT_FALSE(r->error().message.empty());
      continue;
    }
    for (const auto& h : (*r)->hosts()) (void)(*r)->target(h.name);
    (void)(*r)->match(text.substr(0, 40));
    (void)(*r)->match("all:!" + text.substr(0, 8));
  }
}

TEST(Garbage, NeverCrashes) {
  std::mt19937 rng(12345);
  const std::string alphabet = "[]:=,'\"#;!&*?~{}-\n\n \tabcxyz019\\|>&*.";
  const std::string seeds[] = {std::string(kIni), std::string(kYaml)};
  for (int n = 0; n < 600; ++n) {
    std::string text;
    int length = static_cast<int>(rng() % 300);
    if (n % 3 == 0) {
      for (int i = 0; i < length; ++i) text += static_cast<char>(rng() % 256);
    } else if (n % 3 == 1) {
      for (int i = 0; i < length; ++i) text += alphabet[rng() % alphabet.size()];
    } else {  // a valid inventory with a few bytes changed
      text = seeds[n % 2];
      for (int i = 0; i < 1 + n % 5; ++i)
        text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    }
    parse_everything(text, n);
  }
  parse_everything("", 0);
  parse_everything(std::string(1000, '\0'), 1);
  parse_everything(std::string(5000, '[') + std::string(5000, ']'), 2);
  parse_everything(std::string(5000, '{'), 3);
  // Aliases can describe a tree far larger than the file: that is an error, not a hang.
  std::string bomb = "all:\n  vars:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'f'; ++c) {
    std::string ref = std::string("*") + static_cast<char>(c - 1);
    bomb += std::string("    ") + c + ": &" + c + " [" + ref;
    for (int i = 1; i < 10; ++i) bomb += ", " + ref;
    bomb += "]\n";
  }
  EXPECT_THAT(yaml_error(bomb), HasSubstr("inventory too large"));
  parse_everything(bomb, 0);
  parse_everything("all: &x\n  children:\n    g: *x\n", 1);
}

TEST(Garbage, RandomPatternsNeverCrash) {
  Inventory inv = ini(std::string(kIni) + "[long]\n" + std::string(100000, 'a') + "\n");
  EXPECT_THAT(match(inv, "~(a*)*b"), ElementsAre("error: no such host: ~(a*)*b"));  // no ReDoS
  EXPECT_EQ(match(inv, "~.*a$").size(), 1u);
  std::mt19937 rng(7);
  const std::string alphabet = "[]:,!&*?~-^$()web1db0 ";
  for (int n = 0; n < 2000; ++n) {
    std::string pattern;
    for (int i = static_cast<int>(rng() % 20); i > 0; --i)
      pattern += alphabet[rng() % alphabet.size()];
    auto result = inv.match(pattern);
    if (!result.ok()) {
      EXPECT_FALSE(result.error().message.empty());
    }
  }
}

}  // namespace
}  // namespace steward::inventory

namespace steward::inventory {
namespace {

TEST(Targets, EachHostOnceInPatternOrder) {
  auto inventory = Inventory::parse_ini("a ansible_connection=local\n[web]\nweb1\nweb2\n", "t.ini");
  ASSERT_TRUE(inventory.ok());
  auto targets = inventory->targets({"web2", "web*", "a"});
  ASSERT_TRUE(targets.ok()) << targets.error().message;
  std::vector<std::string> names;
  for (const auto& target : *targets) names.push_back(target.name);
  EXPECT_EQ(names, (std::vector<std::string>{"web2", "web1", "a"}));
  EXPECT_EQ((*targets)[2].connection, "local");
  auto missing = inventory->targets({"web1", "db*"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace steward::inventory

namespace steward::inventory {
namespace {

TEST(AgentHosts, AnUnlistedAgentJoinsAgentsAndItsLabelGroups) {
  auto inventory = Inventory::parse_ini("web1 ansible_connection=local\n", "t.ini");
  ASSERT_TRUE(inventory.ok());
  ASSERT_TRUE(inventory->add_agent_host("agent-00aa", {{"role", "web"}, {"zone", "eu-1"}}));
  auto target = inventory->target("agent-00aa");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->connection, "agent");
  auto agents = inventory->match("agents");
  ASSERT_TRUE(agents.ok());
  EXPECT_EQ(*agents, (std::vector<std::string>{"agent-00aa"}));
  auto labelled = inventory->match("label_zone_eu_1:&label_role_web");
  ASSERT_TRUE(labelled.ok()) << labelled.error().message;
  EXPECT_EQ(labelled->size(), 1u);
  auto all = inventory->match("all");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_FALSE(inventory->add_agent_host("agent-00aa", {}));  // once
}

TEST(CallbackHosts, ARemovedRegistrationsHostLeavesButTheInventorysOwnStay) {
  auto inventory = Inventory::parse_ini(
      "own ansible_host=10.0.0.1 steward_callback=own\nvm ansible_host=10.0.0.2 steward_vm_id=AB-12\n", "t.ini");
  ASSERT_TRUE(inventory.ok());
  ASSERT_TRUE(inventory->add_callback_host("first", {{"steward_callback", "first"}}));
  ASSERT_TRUE(inventory->add_callback_host("second", {{"ansible_port", "40001"}}));
  EXPECT_FALSE(inventory->add_callback_host("own", {}));
  EXPECT_FALSE(inventory->remove_callback_host("own"));  // the inventory's own host
  EXPECT_TRUE(inventory->find("own"));
  EXPECT_TRUE(inventory->remove_callback_host("first"));
  EXPECT_FALSE(inventory->remove_callback_host("first"));
  EXPECT_FALSE(inventory->find("first"));
  EXPECT_FALSE(inventory->target("first").ok());
  EXPECT_EQ(*inventory->match("callback"), std::vector<std::string>{"second"});
  EXPECT_EQ(*inventory->match("all"), (std::vector<std::string>{"own", "vm", "second"}));
  // The indexes follow the hosts that moved up.
  EXPECT_EQ(inventory->find("second")->vars.at("ansible_port"), "40001");
  EXPECT_EQ(*inventory->host_for_vm("ab-12"), "vm");
  EXPECT_TRUE(inventory->remove_callback_host("second"));
  EXPECT_EQ(*inventory->match("all"), (std::vector<std::string>{"own", "vm"}));
}

TEST(AgentHosts, AnAgentTheInventoryListsIsNotAddedAgain) {
  auto inventory = Inventory::parse_ini("edge ansible_connection=agent steward_agent_id=agent-11bb\n", "t.ini");
  ASSERT_TRUE(inventory.ok());
  EXPECT_FALSE(inventory->add_agent_host("agent-11bb", {}));
  EXPECT_FALSE(inventory->match("agents").ok());
}

}  // namespace
}  // namespace steward::inventory
