# Functions shared by the command-line test scripts (cli_smoke.cmake, mpi_runs.cmake,
# mpi_llm_runs.cmake), which include it. A script that sets `limit` (seconds) before calling them bounds each command by it,
# so that a command that hangs fails the test instead of stalling CI.

# Runs the command and fails unless it exits 0; leaves its standard output and error in
# last_out and last_err.
function(run_ok)
  set(timeout)
  if(DEFINED limit)
    set(timeout TIMEOUT ${limit})
  endif()
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err ${timeout})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

# Fails unless the two files hold the same bytes, showing both when they differ.
function(same_bytes reference candidate)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${reference}" "${candidate}" RESULT_VARIABLE differ)
  if(differ)
    file(READ "${reference}" a)
    file(READ "${candidate}" b)
    message(FATAL_ERROR "${candidate} differs from ${reference}:\n--- ${reference}\n${a}\n--- ${candidate}\n${b}")
  endif()
endfunction()

# Fails unless the command fails within `limit` seconds and `expected` (a regular expression)
# appears at least `times` times on standard error: once per rank where every rank must report
# it. For the scripts under mpirun, where a hang is the failure to catch.
function(run_fails_on_ranks expected times)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT ${limit})
  if(rc EQUAL 0)
    message(FATAL_ERROR "command should have failed: ${ARGN}")
  endif()
  if(rc MATCHES "timeout")
    message(FATAL_ERROR "command hung (${limit} s): ${ARGN}\n${err}")
  endif()
  string(REGEX MATCHALL "${expected}" found "${err}")
  list(LENGTH found count)
  if(count LESS times)
    message(FATAL_ERROR "expected '${expected}' ${times} times from ${ARGN}, found it ${count} times in:\n${err}")
  endif()
endfunction()

# The start of a script under mpirun: a fresh ${WORK}, a time limit for every command (a run that
# hangs is a failure, not a stuck CI job), and the launch commands for 2 ranks and for 3 ranks on
# this 2-core machine (np2, np3).
macro(start_mpi_script)
  file(REMOVE_RECURSE "${WORK}")
  file(MAKE_DIRECTORY "${WORK}")
  set(limit 120)
  set(np2 "${MPIEXEC}" -np 2)
  set(np3 "${MPIEXEC}" -np 3 --oversubscribe)
endmacro()

# Runs `attrib <args> <outputs>` on one process, 2 ranks (with --threads 2: threads inside the
# ranks must not change a bit either) and 3 ranks, each writing under ${WORK}/<name>_<n>, and
# compares every file the single process wrote with the ranks' ones.
function(same_on_ranks name outputs)
  set(args ${ARGN})
  foreach(n 1 2 3)
    file(MAKE_DIRECTORY "${WORK}/${name}_${n}")
    string(REPLACE "@" "${WORK}/${name}_${n}" outs "${outputs}")
    if(n EQUAL 1)
      run_ok("${ATTRIB}" ${args} ${outs})
    elseif(n EQUAL 2)
      run_ok(${np2} "${ATTRIB}" ${args} --threads 2 ${outs})
    else()
      run_ok(${np3} "${ATTRIB}" ${args} ${outs})
    endif()
  endforeach()
  file(GLOB_RECURSE written RELATIVE "${WORK}/${name}_1" "${WORK}/${name}_1/*")
  if(NOT written)
    message(FATAL_ERROR "${name}: the single process wrote nothing")
  endif()
  foreach(file IN LISTS written)
    same_bytes("${WORK}/${name}_1/${file}" "${WORK}/${name}_2/${file}")
    same_bytes("${WORK}/${name}_1/${file}" "${WORK}/${name}_3/${file}")
  endforeach()
endfunction()
