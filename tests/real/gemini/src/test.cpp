#include <cassert>
#include <string>
#include <utility>

std::pair<std::string, std::string> split_url (const std::string &url);

int
main ()
{
  auto p = split_url ("gemini://example.org/docs/");
  assert (p.first == "example.org" && p.second == "/docs/");
  return 0;
}
