# Writes the man page attrib.1 from the tool's own help texts, so that the page and --help never
# disagree: `attrib --help` is the description, each command's `--help` a section.
#   cmake -DATTRIB=path/to/attrib -DVERSION=x.y.z -DOUT=attrib.1 -P attribManPage.cmake
cmake_minimum_required(VERSION 3.20)

# Help text as roff: backslashes doubled, minus signs as \- (so that options copy as typed), and
# a line that starts with '.' or "'" guarded by \& (roff would read it as a request).
function(roff_text text out)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(help_of out)
  execute_process(COMMAND "${ATTRIB}" ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "attrib ${ARGN} --help failed with status ${status}")
  endif()
  roff_text("${text}" text)
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

help_of(overview)
set(page ".TH ATTRIB 1 \"\" \"attrib ${VERSION}\" \"User Commands\"
.SH NAME
attrib \\- explain models by their input features, training data and components
.SH SYNOPSIS
.B attrib
\\fIcommand\\fR [\\fIoptions\\fR]
.SH DESCRIPTION
.nf
${overview}.fi
")
foreach(command IN ITEMS explain train data "data split" graph llm "llm patch" "llm attribute" "llm components" "llm study")
  string(REPLACE " " ";" words "${command}")
  help_of(text ${words})
  string(TOUPPER "${command}" title)
  string(APPEND page ".SH ATTRIB ${title}\n.nf\n${text}.fi\n")
endforeach()
string(APPEND page ".SH SEE ALSO
The manual of every command, with examples: docs/cli.md in the attrib sources.
")
file(WRITE "${OUT}.tmp" "${page}")
file(RENAME "${OUT}.tmp" "${OUT}")
