// Unit tests of client configuration: kubeconfig parsing (contexts, inline
// data and file references, tokens, errors), KUBECONFIG and in-cluster setup.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "shoal/kube/client.h"
#include "shoal/common/base64.h"
#include "shoal/testing/process.h"

namespace shoal::kube {
namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

const char* kTwoContexts = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://10.1.2.3:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFCQwotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==
- name: prod-cluster
  cluster:
    server: https://prod.example:443/prefix
    certificate-authority: certs/ca.pem
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
    token: abc.def
- name: prod-user
  user:
    client-certificate: certs/client.pem
    client-key-data: a2V5LWJ5dGVz
contexts:
- name: dev
  context:
    cluster: dev-cluster
    user: dev-user
    namespace: team-a
- name: prod
  context:
    cluster: prod-cluster
    user: prod-user
)";

TEST(Kubeconfig, CurrentContextWithInlineCaAndToken) {
  auto c = parseKubeconfig(kTwoContexts);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://10.1.2.3:6443");
  EXPECT_EQ(c->token, "abc.def");
  EXPECT_EQ(c->namespace_, "team-a");
  EXPECT_EQ(c->contextName, "dev");
  EXPECT_EQ(c->caPem, "-----BEGIN CERTIFICATE-----\nABC\n-----END CERTIFICATE-----\n");
  EXPECT_FALSE(c->insecureSkipTlsVerify);
}

TEST(Kubeconfig, NamedContextWithFilesRelativeToTheKubeconfig) {
  testing::TempDir dir;
  ::mkdir(dir.file("certs").c_str(), 0755);
  write(dir.file("certs/ca.pem"), "CA-PEM");
  write(dir.file("certs/client.pem"), "CLIENT-PEM");
  write(dir.file("config"), kTwoContexts);
  auto c = loadKubeconfigFile(dir.file("config"), "prod");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://prod.example:443/prefix");
  EXPECT_EQ(c->caPem, "CA-PEM");
  EXPECT_TRUE(c->insecureSkipTlsVerify);
  EXPECT_EQ(c->clientCertPem, "CLIENT-PEM");
  EXPECT_EQ(c->clientKeyPem, "key-bytes");
  EXPECT_EQ(c->namespace_, "default");
  EXPECT_TRUE(c->token.empty());
}

TEST(Kubeconfig, ErrorsAreValues) {
  EXPECT_FALSE(parseKubeconfig("{{{{ not yaml").ok());
  EXPECT_FALSE(parseKubeconfig("- a list").ok());
  EXPECT_FALSE(parseKubeconfig(kTwoContexts, "missing").ok());
  EXPECT_FALSE(parseKubeconfig("current-context: x\ncontexts: 5\n").ok());
  auto noServer = parseKubeconfig(
      "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
      "clusters:\n- name: k\n  cluster: {}\n");
  ASSERT_FALSE(noServer.ok());
  EXPECT_EQ(noServer.error().code, Errc::kInvalidInput);
  EXPECT_NE(noServer.error().message.find("no server"), std::string::npos);
  auto badB64 = parseKubeconfig(
      "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
      "clusters:\n- name: k\n  cluster: {server: 'https://x', certificate-authority-data: '@@@'}\n");
  EXPECT_FALSE(badB64.ok());
  auto missingFile = parseKubeconfig(
      "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
      "clusters:\n- name: k\n  cluster: {server: 'https://x', certificate-authority: /nonexistent/ca}\n");
  EXPECT_FALSE(missingFile.ok());
  auto certNoKey = parseKubeconfig(
      "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
      "clusters:\n- name: k\n  cluster: {server: 'https://x'}\n"
      "users:\n- name: u\n  user: {client-certificate-data: 'QUJD'}\n");
  EXPECT_FALSE(certNoKey.ok());
}

TEST(Kubeconfig, TokenFileIsKeptAsAPathForRotation) {
  auto c = parseKubeconfig(
      "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
      "clusters:\n- name: k\n  cluster: {server: 'http://127.0.0.1:1'}\n"
      "users:\n- name: u\n  user: {tokenFile: tok}\n",
      "", "/etc/x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tokenFile, "/etc/x/tok");
}

class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~EnvGuard() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Kubeconfig, DefaultOrderFlagThenKubeconfigEnvThenInCluster) {
  testing::TempDir dir;
  write(dir.file("a"), kTwoContexts);
  write(dir.file("b"),
        "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
        "clusters:\n- name: k\n  cluster: {server: 'https://from-env:1'}\n");
  EnvGuard kc("KUBECONFIG", (dir.file("missing") + ":" + dir.file("b")).c_str());
  EnvGuard host("KUBERNETES_SERVICE_HOST", nullptr);
  auto flag = loadDefaultConfig(dir.file("a"));
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->server, "https://10.1.2.3:6443");
  auto env = loadDefaultConfig();
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->server, "https://from-env:1");
}

TEST(InCluster, ReadsServiceAccountFilesAndEnvironment) {
  testing::TempDir sa;
  write(sa.file("token"), "tok-1\n");
  write(sa.file("ca.crt"), "CA");
  write(sa.file("namespace"), "shoal-system\n");
  {
    EnvGuard host("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    EnvGuard port("KUBERNETES_SERVICE_PORT", "443");
    auto c = loadInClusterConfig(sa.path());
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->server, "https://10.0.0.1:443");
    EXPECT_EQ(c->tokenFile, sa.file("token"));
    EXPECT_EQ(c->caPem, "CA");
    EXPECT_EQ(c->namespace_, "shoal-system");
  }
  {
    EnvGuard host("KUBERNETES_SERVICE_HOST", "fd00::1");
    EnvGuard port("KUBERNETES_SERVICE_PORT", "6443");
    auto c = loadInClusterConfig(sa.path());
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->server, "https://[fd00::1]:6443");
  }
  EnvGuard host("KUBERNETES_SERVICE_HOST", nullptr);
  EXPECT_FALSE(loadInClusterConfig(sa.path()).ok());
}

TEST(Base64, RoundTripsAndRejectsGarbage) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x01\xff\x80 binary"}) {
    auto back = base64Decode(base64Encode(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(*base64Decode("YWJj\nZA=="), "abcd");
  EXPECT_FALSE(base64Decode("a*b"));
}

TEST(HttpClient, RejectsBadUrlsAndCertificatesAsValues) {
  ClientConfig c;
  c.server = "ftp://x";
  EXPECT_FALSE(makeHttpClient(c).ok());
  c.server = "https://:443";
  EXPECT_FALSE(makeHttpClient(c).ok());
  c.server = "https://host:99999";
  EXPECT_FALSE(makeHttpClient(c).ok());
  c.server = "https://127.0.0.1:6443";
  c.caPem = "not a pem";
  EXPECT_FALSE(makeHttpClient(c).ok());
  c.caPem.clear();
  c.clientCertPem = "junk";
  c.clientKeyPem = "junk";
  EXPECT_FALSE(makeHttpClient(c).ok());
  c.clientCertPem.clear();
  c.clientKeyPem.clear();
  EXPECT_TRUE(makeHttpClient(c).ok());
}

TEST(HttpClient, TransportFailureIsARetryableValue) {
  ClientConfig c;
  c.server = "http://127.0.0.1:" + std::to_string(testing::freePort());
  c.timeout = std::chrono::milliseconds(2000);
  auto cli = makeHttpClient(c);
  ASSERT_TRUE(cli.ok());
  auto r = (*cli)->get(Resource::configMaps(), "default", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 0);
  EXPECT_TRUE(r.error().isRetryable());
}

}  // namespace
}  // namespace shoal::kube
