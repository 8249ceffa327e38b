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

# Hostile and careless input (issue #17): each refused before any work, with a message that
# names the option or file, and no output file left behind or overwritten.
run_ok("${ATTRIB}" --version)
if(NOT last_out MATCHES "^attrib [0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "attrib --version printed:\n${last_out}")
endif()
foreach(command explain train data graph llm)
  run_ok("${ATTRIB}" ${command} -h)
  if(NOT last_out MATCHES "usage: attrib ${command}")
    message(FATAL_ERROR "attrib ${command} -h printed no usage:\n${last_out}")
  endif()
endforeach()
run_fails("--baseline-row must be between 0 and 9223372036854775807, got '18446744073709551615'"
          "${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn --rows 0
          --method occlusion --baseline-mode row --baseline-row 18446744073709551615)
run_fails("--rows lists row 1 more than once" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${wine}" --data-format sklearn --rows 0-3,1 --method occlusion)
run_fails("--threads must be between 0 and 1024" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${wine}" --data-format sklearn --rows 0 --method occlusion --threads -1)
file(READ "${WORK}/wine_mlp.json" model_before)
run_fails("--out '.*wine_mlp.json' is the same file as --model" "${ATTRIB}" explain --model "${WORK}/wine_mlp.json"
          --data "${wine}" --data-format sklearn --rows 0 --method occlusion --out "${WORK}/wine_mlp.json")
file(READ "${WORK}/wine_mlp.json" model_after)
if(NOT model_before STREQUAL model_after)
  message(FATAL_ERROR "a refused run changed its input")
endif()
run_fails("--weights-file 'w.json' \\(beside --out\\) is the --out file" "${ATTRIB}" train --data "${wine}"
          --model-type logistic_regression --out "${WORK}/w.json" --weights-file w.json)
if(EXISTS "${WORK}/w.json")
  message(FATAL_ERROR "a refused train left ${WORK}/w.json behind")
endif()
# A class label of 50,000,000 is not a request for 50 million classes.
file(WRITE "${WORK}/huge_label.csv" "a,b,y\n0.1,0.2,0\n0.3,0.1,50000000\n0.5,0.9,0\n0.2,0.7,50000000\n")
run_fails("the labels take 2 distinct values but the largest is 50000000" "${ATTRIB}" train
          --data "${WORK}/huge_label.csv" --data-format csv --model-type logistic_regression --out "${WORK}/h.json")
# A byte-order mark is not part of the first cell; a first line that mixes numbers and text is
# neither silently a header nor silently dropped.
string(ASCII 239 187 191 bom)
file(WRITE "${WORK}/bom.csv" "${bom}0.5,1,2\n1.5,3,4\n2.5,5,7\n")
run_ok("${ATTRIB}" train --data "${WORK}/bom.csv" --data-format csv --model-type linear_regression
       --out "${WORK}/bom.json")
if(NOT last_err MATCHES "3 rows x 3 columns, no header line")
  message(FATAL_ERROR "the BOM file was not read as 3 data rows:\n${last_err}")
endif()
file(WRITE "${WORK}/mixed.csv" "x,2,3\n1,2,3\n4,5,7\n")
run_fails("the first line mixes 2 numbers with 1 other cells" "${ATTRIB}" train --data "${WORK}/mixed.csv"
          --data-format csv --model-type linear_regression --out "${WORK}/mixed.json")
# A model file's weights stay inside its folder.
file(READ "${WORK}/wine_mlp.json" config)
string(REPLACE "wine_mlp.safetensors" "/dev/zero" config "${config}")
file(WRITE "${WORK}/dev_zero.json" "${config}")
run_fails("weights '/dev/zero' is an absolute path" "${ATTRIB}" explain --model "${WORK}/dev_zero.json"
          --data "${wine}" --data-format sklearn --rows 0 --method occlusion)
# A 34-byte graph model header that declares 10^15 parameters.
file(WRITE "${WORK}/bomb_gcn.txt" "attrib-gcn 1\n0 0 1 1000000 1000 2\n")
run_fails("declares 999001003000002 parameters, but only 1 bytes follow"
          "${ATTRIB}" graph explain --dataset "${mutag}" --name MUTAG --model-file "${WORK}/bomb_gcn.txt" --graph 1 --method hn)

# attrib llm logits: the most likely next token after "Once upon a time" is the one llama2.c's
# greedy run chose (golden_greedy.json: "Once upon a time, there was ..."), its log-probability
# is below 0, and the JSON form parses with the same candidates.
set(stories "${DATA}/models/stories260K")
run_ok("${ATTRIB}" llm logits --model "${stories}/stories260K.bin" --tokenizer "${stories}/tok512.bin"
       --prompt "Once upon a time" --top-k 3 --last)
if(NOT last_out MATCHES "\n4,378,1,432,\",\",[0-9.]+,-0\\.0[0-9]+\n4,378,2,")
  message(FATAL_ERROR "attrib llm logits: unexpected top candidates:\n${last_out}")
endif()
run_ok("${ATTRIB}" llm logits --model "${stories}/stories260K.gguf" --prompt "Once upon a time" --top-k 3 --last
       --format json --out "${WORK}/logits.json")
file(READ "${WORK}/logits.json" logits_json)
string(JSON first_token GET "${logits_json}" 0 top 0 token)
string(JSON positions LENGTH "${logits_json}")
if(NOT first_token EQUAL 432 OR NOT positions EQUAL 1)
  message(FATAL_ERROR "attrib llm logits --format json: expected one position whose top token is 432:\n${logits_json}")
endif()
run_ok("${ATTRIB}" llm generate --model "${stories}/stories260K.gguf" --prompt "Once upon a time" --max-tokens 2 --top-k 2)
if(NOT last_out MATCHES "position 5 \\(chose 432\\):  432 ',' -0\\.0")
  message(FATAL_ERROR "attrib llm generate --top-k printed:\n${last_out}")
endif()

# Table formats are detected when not given: the wine file is scikit-learn's format (its last
# column, the label, is dropped for explain), a plain table is csv.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --data-format sklearn --rows 5
       --method occlusion --quiet)
set(sniffed_out "${last_out}")
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 5 --method occlusion --quiet)
if(NOT last_out STREQUAL sniffed_out)
  message(FATAL_ERROR "a detected sklearn file gave another result than --data-format sklearn")
endif()
run_ok("${ATTRIB}" train --data "${wine}" --model-type logistic_regression --out "${WORK}/sniffed.json" --quiet)

# --format json: the same table as objects keyed by column name.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 5-6 --method occlusion --quiet
       --format json --out "${WORK}/occlusion.json")
file(READ "${WORK}/occlusion.json" occlusion_json)
string(JSON rows_in_json LENGTH "${occlusion_json}")
string(JSON second_row GET "${occlusion_json}" 1 row)
string(JSON evaluations GET "${occlusion_json}" 0 model_evaluations)
if(NOT rows_in_json EQUAL 2 OR NOT second_row EQUAL 6 OR NOT evaluations EQUAL 15)
  message(FATAL_ERROR "explain --format json: expected rows 5 and 6 with 15 evaluations each (v(N), v(empty), 13 removals):\n${occlusion_json}")
endif()

# Progress into a log (standard error is not a terminal here): plain lines, no carriage returns.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 0-177 --method kernel-shap
       --samples 4000 --out "${WORK}/progress.csv")
string(ASCII 13 carriage_return)
string(FIND "${last_err}" "${carriage_return}" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "progress written to a log contains a carriage return:\n${last_err}")
endif()

# --svg: a waterfall per instance, valid SVG (rendered with rsvg-convert where installed; deps.sh
# installs it) with the instance headings, feature names and axis ticks as text.
run_ok("${ATTRIB}" explain --model "${WORK}/wine_mlp.json" --data "${wine}" --rows 0,70 --method kernel-shap
       --samples 400 --quiet --out "${WORK}/shap_svg.csv" --svg "${WORK}/shap.svg")
file(READ "${WORK}/shap.svg" svg)
foreach(expected "<svg xmlns=\"http://www.w3.org/2000/svg\"" ">row 0, output 0: E\\[f\\] = [0-9.]+, f\\(x\\) = [0-9.e-]+<"
                 ">row 70, output 0: " ">x12<" ">x0<" "text-anchor=\"middle\">0.[0-9]+<" "</svg>")
  if(NOT svg MATCHES "${expected}")
    message(FATAL_ERROR "shap.svg lacks '${expected}'")
  endif()
endforeach()
find_program(rsvg_convert rsvg-convert)
if(rsvg_convert)
  run_ok("${rsvg_convert}" "${WORK}/shap.svg" -o "${WORK}/shap.png")
  file(SIZE "${WORK}/shap.png" png_size)
  if(png_size LESS 1000)
    message(FATAL_ERROR "rsvg-convert rendered shap.svg to only ${png_size} bytes")
  endif()
else()
  message(STATUS "rsvg-convert not found: shap.svg checked as text only (bash scripts/deps.sh installs it)")
endif()

message(STATUS "attrib CLI smoke test passed")
