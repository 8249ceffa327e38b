# End-to-end check of the attrib tool: train a model, explain rows with a perturbation and a
# gradient method, and confirm that bad input ends with a message naming the problem.
# Run as: cmake -DATTRIB=<attrib executable> -DDATA=<repo data dir> -DWORK=<scratch dir> -P cli_smoke.cmake
file(MAKE_DIRECTORY "${WORK}")

function(run_ok)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

function(run_fails expected)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "command should have failed: ${ARGN}")
  endif()
  if(NOT err MATCHES "${expected}")
    message(FATAL_ERROR "expected an error matching '${expected}' from ${ARGN}, got:\n${err}")
  endif()
endfunction()

run_ok("${ATTRIB}" --help)
if(NOT last_out MATCHES "explain" OR NOT last_out MATCHES "train")
  message(FATAL_ERROR "attrib --help does not list the commands:\n${last_out}")
endif()
run_ok("${ATTRIB}" explain --help)
foreach(option model data baseline method samples seed threads output out)
  if(NOT last_out MATCHES "--${option}")
    message(FATAL_ERROR "attrib explain --help does not document --${option}")
  endif()
endforeach()

set(wine "${DATA}/wine/wine_data.csv")
run_ok("${ATTRIB}" train --data "${wine}" --model-type mlp --hidden 8 --epochs 30 --seed 1
       --out "${WORK}/wine_mlp.json" --weights-file wine_mlp.safetensors)
if(NOT last_err MATCHES "training accuracy")
  message(FATAL_ERROR "attrib train printed no accuracy:\n${last_err}")
endif()

run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 0-2 --method kernel-shap --samples 200 --seed 3 --output predicted
       --baseline "${wine}" --baseline-format sklearn --max-background 10 --quiet --out "${WORK}/shap.csv")
file(STRINGS "${WORK}/shap.csv" lines)
list(LENGTH lines count)
if(NOT count EQUAL 4)
  message(FATAL_ERROR "expected a header and 3 rows in shap.csv, got ${count} lines")
endif()
list(GET lines 0 header)
if(NOT header MATCHES "^row,output,base_value,prediction,x0,.*,se_x12,model_evaluations$")
  message(FATAL_ERROR "unexpected header: ${header}")
endif()

# The same seed gives the same file, whatever the thread count.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 0-2 --method kernel-shap --samples 200 --seed 3 --output predicted --threads 2
       --baseline "${wine}" --baseline-format sklearn --max-background 10 --quiet --out "${WORK}/shap2.csv")
file(READ "${WORK}/shap.csv" one)
file(READ "${WORK}/shap2.csv" two)
if(NOT one STREQUAL two)
  message(FATAL_ERROR "kernel-shap output differs between 1 and 2 threads")
endif()

run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn
       --rows 5 --method integrated-gradients --steps 20)
if(NOT last_out MATCHES "^row,output,base_value,prediction")
  message(FATAL_ERROR "integrated-gradients output has no header:\n${last_out}")
endif()

run_fails("unknown --method 'nope'" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}"
          --data-format sklearn --method nope)
file(WRITE "${WORK}/wide.csv" "1,2,3,4,5,6,7,8,9,10,11,12,13,14\n")
run_fails("--data has 14 columns but the model takes 13" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${WORK}/wide.csv" --method occlusion)
run_fails("cannot open" "${ATTRIB}" explain --model "${WORK}/missing.json" --data "${wine}" --method occlusion)
run_fails("budget 3 is too small" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}"
          --data-format sklearn --rows 0 --method kernel-shap --samples 3)
run_fails("unknown option --bogus" "${ATTRIB}" explain --bogus 1)
# attrib graph: train a GIN on MUTAG, explain one molecule with the HN value and GNNExplainer.
set(mutag "${DATA}/graphs/MUTAG")
run_ok("${ATTRIB}" graph --help)
foreach(option dataset name model model-file graph method tau seed)
  if(NOT last_out MATCHES "--${option}")
    message(FATAL_ERROR "attrib graph --help does not document --${option}")
  endif()
endforeach()
run_ok("${ATTRIB}" graph train --dataset "${mutag}" --name MUTAG --model gin --hidden 8 --epochs 20 --seed 1
       --out "${WORK}/mutag_gin.txt")
if(NOT last_err MATCHES "training accuracy")
  message(FATAL_ERROR "attrib graph train printed no accuracy:\n${last_err}")
endif()
run_ok("${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/mutag_gin.txt" --graph 1
       --method hn --threads 2)
string(REGEX MATCHALL "\n[0-9]+,[0-9]+,[-0-9.e]+" rows "${last_out}")
list(LENGTH rows count)
if(NOT last_out MATCHES "^node,label,score\n" OR NOT count EQUAL 13)
  message(FATAL_ERROR "expected a header and 13 node rows (MUTAG graph 1 has 13 atoms), got:\n${last_out}")
endif()
if(NOT last_err MATCHES "hn H-fidelity")
  message(FATAL_ERROR "attrib graph explain printed no H-fidelity:\n${last_err}")
endif()
run_ok("${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/mutag_gin.txt" --graph 1
       --method gnnexplainer --epochs 50 --seed 2)
run_fails("--graph 188 is out of range" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/mutag_gin.txt" --graph 188 --method hn)
run_fails("tau must satisfy 0 < tau < 2/n" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/mutag_gin.txt" --graph 1 --method hn --tau 0.5)
run_fails("unknown --method 'nope'" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/mutag_gin.txt" --graph 1 --method nope)
file(WRITE "${WORK}/not_a_model.txt" "attrib-gin 1\n0 0 0 7\n")
run_fails("gin::load: malformed configuration line" "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG
          --model-file "${WORK}/not_a_model.txt" --graph 1 --method hn)

message(STATUS "attrib CLI smoke test passed")
