// A stand-in for the project's library: split a gemini:// URL into host and path.
#include <string>
#include <utility>

std::pair<std::string, std::string>
split_url (const std::string &url)
{
  const std::string scheme = "gemini://";
  std::string rest = url.rfind (scheme, 0) == 0 ? url.substr (scheme.size ()) : url;
  auto slash = rest.find ('/');
  if (slash == std::string::npos)
    return { rest, "/" };
  return { rest.substr (0, slash), rest.substr (slash) };
}
