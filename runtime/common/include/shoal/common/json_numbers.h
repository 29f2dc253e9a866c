// Naming the number a JSON parser refused. simdjson reports a number outside
// the double range (1e400) as a structural error of the whole document; a
// dead-letter reason should instead name the field and the number, so the
// producer can fix it. Pure function over the text; no exceptions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shoal {

/// The first number in `json` that does not fit a double (its magnitude
/// overflows; a tiny value that underflows to zero is fine), or an integer
/// literal wider than 64 bits (which simdjson also rejects), as the reason
/// "<path>: number <text> is out of range", where path is the dotted chain
/// of object keys leading to it (array elements as [i]; "document" at the top
/// level). nullopt when there is none. Tolerates malformed JSON: it then
/// answers for the part it could follow. Linear in the size of `json`.
std::optional<std::string> outOfRangeNumber(std::string_view json);

/// Whether `number` (the whole text of one number) overflows a double.
bool isOutOfRangeNumber(std::string_view number);

/// "number <text> is out of range", the text shortened to 40 characters.
std::string outOfRangeReason(std::string_view number);

}  // namespace shoal
