"""Yardstick for the AI4I recipe: a Keras 64-64 MLP on the same features and protocol as Millstream's test
(stratified 80/20 split, 20 % of the training part for validation and the threshold, standard scaling).
Usage: .venv/bin/python Benchmarks/learn/keras_ai4i.py SEED   (needs scripts/bench-venv)
"""
import csv, numpy as np, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"
import tensorflow as tf, keras
rows=list(csv.reader(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'data', 'ai4i2020.csv'),encoding='utf-8-sig')))[1:]
t=np.array([r[2] for r in rows]); d=np.array([[float(x) for x in r[3:]] for r in rows])
air,proc,rpm,tq,wear,fail=d[:,0],d[:,1],d[:,2],d[:,3],d[:,4],d[:,5]
X=np.column_stack([air,proc,rpm,tq,wear,tq*rpm*2*np.pi/60,proc-air,wear*tq,t=='L',t=='M',t=='H']).astype('float32')
y=fail.astype('float32')
seed=int(sys.argv[1]) if len(sys.argv)>1 else 0
rng=np.random.default_rng(seed)
idx0=rng.permutation(np.where(y==0)[0]); idx1=rng.permutation(np.where(y==1)[0])
def split(ix):
    nt=round(len(ix)*0.2); rest=ix[nt:]; nv=round(len(rest)*0.2); return ix[:nt], rest[:nv], rest[nv:]
t0,v0,r0=split(idx0); t1,v1,r1=split(idx1)
te=np.r_[t0,t1]; va=np.r_[v0,v1]; tr=np.r_[r0,r1]
mu=X[tr,:8].mean(0); sd=X[tr,:8].std(0); X[:,:8]=(X[:,:8]-mu)/sd
keras.utils.set_random_seed(seed)
m=keras.Sequential([keras.Input((11,)),keras.layers.Dense(64,activation='relu'),keras.layers.Dense(64,activation='relu'),keras.layers.Dense(1,activation='sigmoid')])
m.compile(optimizer=keras.optimizers.Adam(0.001),loss='binary_crossentropy')
m.fit(X[tr],y[tr],validation_data=(X[va],y[va]),epochs=100,batch_size=32,verbose=0,callbacks=[keras.callbacks.EarlyStopping(patience=10,restore_best_weights=True)])
pv=m.predict(X[va],verbose=0).ravel(); pt=m.predict(X[te],verbose=0).ravel()
best=(0,0.5)
for th in np.unique(pv):
    p=pv>=th; tp=(p&(y[va]==1)).sum(); fp=(p&(y[va]==0)).sum(); fn=(~p&(y[va]==1)).sum()
    f=2*tp/(2*tp+fp+fn) if tp else 0
    if f>best[0]: best=(f,th)
p=pt>=best[1]; tp=(p&(y[te]==1)).sum(); fp=(p&(y[te]==0)).sum(); fn=(~p&(y[te]==1)).sum()
print('keras test F1', 2*tp/(2*tp+fp+fn), 'threshold', best[1])
